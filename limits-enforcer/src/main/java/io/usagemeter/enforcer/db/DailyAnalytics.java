package io.usagemeter.enforcer.db;

import static io.usagemeter.schema.jooq.Tables.API_USAGE_DAILY;
import static io.usagemeter.schema.jooq.Tables.USER_REFERRALS;
import static io.usagemeter.schema.jooq.Tables.USERS;

import io.usagemeter.schema.events.Provider;
import java.math.BigDecimal;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jooq.DSLContext;
import org.jooq.Field;
import org.jooq.impl.DSL;

/**
 * The platform day by day over a window of UTC days, each series computed in PostgreSQL: new users (the users first
 * recorded on the day, {@code users.created_at}) and completed referrals ({@code user_referrals.completed_at}) from
 * the V10 indexes, and events per provider from the V12 counter {@code api_usage_daily}.
 */
public final class DailyAnalytics {

    /** The longest window one request may ask for. */
    public static final int MAX_DAYS = 366;

    private final DSLContext dsl;

    public DailyAnalytics(DSLContext dsl) {
        this.dsl = dsl;
    }

    /** One UTC day: new users, completed referrals, and events per provider (every provider, 0 when none). */
    public record Day(LocalDate day, long newUsers, long completedReferrals, long events, Map<String, Long> eventsByProvider) {
    }

    /** Every day from {@code first} to {@code last}, both included. */
    public record Window(LocalDate first, LocalDate last, List<Day> days) {
    }

    /** The UTC calendar day of an instant, whatever the session's time zone. */
    static Field<LocalDate> utcDay(Field<OffsetDateTime> instant) {
        return DSL.field("({0} AT TIME ZONE 'UTC')::date", LocalDate.class, instant);
    }

    /**
     * The start of the UTC day of an instant, as an instant: 24-hour bins from a UTC midnight, whatever the
     * session's time zone. Integer arithmetic per row, where {@link #utcDay} converts time zones: counting a
     * window's events per day this way costs about what counting them does (2.5 times less on 150,000 rows).
     */
    static Field<OffsetDateTime> utcDayStart(Field<OffsetDateTime> instant) {
        return DSL.field("date_bin('1 day', {0}, timestamptz '2000-01-01 00:00:00+00')", OffsetDateTime.class, instant);
    }

    private static LocalDate dayOf(OffsetDateTime dayStart) {
        return dayStart.atZoneSameInstant(ZoneOffset.UTC).toLocalDate();
    }

    public Window days(LocalDate first, LocalDate last) {
        long span = ChronoUnit.DAYS.between(first, last) + 1;
        if (span < 1 || span > MAX_DAYS) {
            throw new IllegalArgumentException("a window of 1 to " + MAX_DAYS + " days, was " + span);
        }
        OffsetDateTime from = first.atStartOfDay().atOffset(ZoneOffset.UTC);
        OffsetDateTime to = last.plusDays(1).atStartOfDay().atOffset(ZoneOffset.UTC);
        Map<LocalDate, Long> newUsers = newUsers(from, to);
        Map<LocalDate, Long> referrals = completedReferrals(from, to);
        Map<LocalDate, Map<String, Long>> events = eventsByProvider(first, last);
        List<Day> days = new ArrayList<>();
        for (LocalDate d = first; !d.isAfter(last); d = d.plusDays(1)) {
            Map<String, Long> byProvider = new LinkedHashMap<>();
            for (Provider p : Provider.values()) {
                byProvider.put(p.wireName(), events.getOrDefault(d, Map.of()).getOrDefault(p.wireName(), 0L));
            }
            long total = byProvider.values().stream().mapToLong(Long::longValue).sum();
            days.add(new Day(d, newUsers.getOrDefault(d, 0L), referrals.getOrDefault(d, 0L), total, byProvider));
        }
        return new Window(first, last, days);
    }

    /**
     * Users the platform first recorded on each day ({@code users.created_at}: a user's row is created with
     * their first event, referral or admin command), from the V10 index. Not from the events: a usage
     * reset clears a month's {@code first_event_at}, and the first event ever per user over every
     * {@code api_usage} partition took more than 30 s for 100,000 users (bench/run-admin-reports).
     */
    private Map<LocalDate, Long> newUsers(OffsetDateTime from, OffsetDateTime to) {
        var u = USERS;
        Field<OffsetDateTime> day = utcDayStart(u.CREATED_AT);
        return dsl.select(day, DSL.count()).from(u)
                .where(u.CREATED_AT.ge(from).and(u.CREATED_AT.lt(to)))
                .groupBy(day)
                .fetchMap(r -> dayOf(r.value1()), r -> r.value2().longValue());
    }

    private Map<LocalDate, Long> completedReferrals(OffsetDateTime from, OffsetDateTime to) {
        var r = USER_REFERRALS;
        Field<OffsetDateTime> day = utcDayStart(r.COMPLETED_AT);
        return dsl.select(day, DSL.count()).from(r)
                .where(r.STATUS.eq("completed").and(r.COMPLETED_AT.ge(from)).and(r.COMPLETED_AT.lt(to)))
                .groupBy(day)
                .fetchMap(x -> dayOf(x.value1()), x -> x.value2().longValue());
    }

    /**
     * From {@code api_usage_daily} (V12: events per UTC day and provider, kept in the transaction that writes the
     * {@code api_usage} rows): a few rows per day, whatever the number of events.
     */
    private Map<LocalDate, Map<String, Long>> eventsByProvider(LocalDate first, LocalDate last) {
        var c = API_USAGE_DAILY;
        Field<BigDecimal> events = DSL.sum(c.EVENTS);
        Map<LocalDate, Map<String, Long>> byDay = new HashMap<>();
        dsl.select(c.DAY, c.PROVIDER, events).from(c)
                .where(c.DAY.between(first, last))
                .groupBy(c.DAY, c.PROVIDER)
                .forEach(x -> byDay.computeIfAbsent(x.value1(), d -> new HashMap<>())
                        .put(x.value2(), x.value3().longValueExact()));
        return byDay;
    }
}
