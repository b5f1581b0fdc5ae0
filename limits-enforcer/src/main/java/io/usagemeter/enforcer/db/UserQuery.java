package io.usagemeter.enforcer.db;

import static io.usagemeter.schema.jooq.Tables.USERS;

import java.time.YearMonth;
import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import org.jooq.Condition;
import org.jooq.impl.DSL;

/**
 * One page of {@code GET /v1/admin/users}: who (a search by id or e-mail), in which state this month,
 * in which order, and which page.
 *
 * @param search a full user id, the start of one (hex digits, dashes ignored), or part of an e-mail
 *     (case-insensitive); null for everyone
 * @param state {@code ok}, {@code warning} or {@code exceeded} this month; null for every state
 * @param page 1 for the first page
 */
public record UserQuery(YearMonth month, String search, String state, Sort sort, int page, int pageSize) {

    public static final int MAX_SEARCH_LENGTH = 320;
    public static final int MAX_PAGE_SIZE = 10_000;
    public static final String[] STATES = {"ok", "warning", "exceeded"};

    /** The order of the rows: by units used this month, or by the share of the limit used. */
    public enum Sort {
        USED_DESC, USED_ASC, PERCENT_DESC, PERCENT_ASC;

        public String wireName() {
            return name().toLowerCase(Locale.ROOT);
        }

        public static Optional<Sort> fromWire(String name) {
            return Arrays.stream(values()).filter(s -> s.wireName().equals(name)).findFirst();
        }
    }

    public UserQuery {
        Objects.requireNonNull(month, "month");
        Objects.requireNonNull(sort, "sort");
        search = search == null || search.isBlank() ? null : search.strip();
        if (search != null && search.length() > MAX_SEARCH_LENGTH) {
            throw new IllegalArgumentException("search longer than " + MAX_SEARCH_LENGTH + " characters");
        }
        if (state != null && Arrays.stream(STATES).noneMatch(state::equals)) {
            throw new IllegalArgumentException("unknown state " + state);
        }
        if (page < 1 || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
            throw new IllegalArgumentException("page must be >= 1 and page size within 1.." + MAX_PAGE_SIZE);
        }
    }

    /** The first {@code limit} users of {@code month}, most used first (what {@code ?limit=} always meant). */
    public static UserQuery top(YearMonth month, int limit) {
        return new UserQuery(month, null, null, Sort.USED_DESC, 1, limit);
    }

    long offset() {
        return (long) (page - 1) * pageSize;
    }

    /** Which users the search matches. */
    Condition searchCondition() {
        if (search == null) {
            return DSL.trueCondition();
        }
        String text = search.toLowerCase(Locale.ROOT);
        if (isFullUuid(text)) {
            return USERS.ID.eq(UUID.fromString(text));
        }
        Condition byEmail = DSL.lower(USERS.EMAIL).like("%" + escapeLike(text) + "%", '!');
        return idPrefixRange(text).map(range -> byEmail.or(USERS.ID.between(range[0], range[1]))).orElse(byEmail);
    }

    private static boolean isFullUuid(String text) {
        return text.length() == 36 && text.matches("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
    }

    /**
     * The ids starting with {@code text}'s hex digits, as the range [prefix000…, prefixfff…]: PostgreSQL
     * orders uuids by their bytes, so the range is answered from the primary key.
     */
    static Optional<UUID[]> idPrefixRange(String text) {
        String hex = text.replace("-", "");
        if (hex.isEmpty() || hex.length() > 32 || !hex.matches("[0-9a-f]+")) {
            return Optional.empty();
        }
        return Optional.of(new UUID[] {uuidOfHex(hex + "0".repeat(32 - hex.length())),
                uuidOfHex(hex + "f".repeat(32 - hex.length()))});
    }

    private static UUID uuidOfHex(String hex32) {
        return new UUID(Long.parseUnsignedLong(hex32.substring(0, 16), 16), Long.parseUnsignedLong(hex32.substring(16), 16));
    }

    private static String escapeLike(String text) {
        return text.replace("!", "!!").replace("%", "!%").replace("_", "!_");
    }
}
