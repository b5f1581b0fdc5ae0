/**
 * The limits enforcer: a Kafka Streams app that keeps every user's entitlement (plan, referrals,
 * bonus credits) and limit state, emits 80 % / 100 % limit events, answers limit checks over HTTP
 * from any instance, and persists admin and referral effects to PostgreSQL.
 */
package io.usagemeter.enforcer;
