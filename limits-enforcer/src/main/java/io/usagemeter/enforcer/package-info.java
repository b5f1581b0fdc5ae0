/** The `limits-enforcer` module: see README.md; its issue fills it in. */
package io.usagemeter.enforcer;
