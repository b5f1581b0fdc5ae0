package io.usagemeter.schema.json;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.BeanDescription;
import com.fasterxml.jackson.databind.BeanProperty;
import com.fasterxml.jackson.databind.DeserializationConfig;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.deser.BeanDeserializerBase;
import com.fasterxml.jackson.databind.deser.BeanDeserializerModifier;
import com.fasterxml.jackson.databind.deser.ContextualDeserializer;
import com.fasterxml.jackson.databind.deser.ResolvableDeserializer;
import com.fasterxml.jackson.databind.deser.SettableBeanProperty;
import com.fasterxml.jackson.databind.deser.impl.ObjectIdReader;
import com.fasterxml.jackson.databind.deser.impl.PropertyValueBuffer;
import com.fasterxml.jackson.databind.deser.std.StdDeserializer;
import com.fasterxml.jackson.databind.jsontype.TypeDeserializer;
import com.fasterxml.jackson.databind.type.LogicalType;
import com.fasterxml.jackson.databind.util.AccessPattern;
import com.fasterxml.jackson.databind.util.ClassUtil;
import com.fasterxml.jackson.databind.util.TokenBuffer;
import io.usagemeter.schema.events.OccurredAtParser;
import io.usagemeter.schema.events.Provider;
import io.usagemeter.schema.events.UsageEvent;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.UUID;

/**
 * Reads a {@link UsageEvent} token by token, with exactly the results and failures of Jackson's
 * record deserialisation through {@code UsageEvent.fromJson}, without its per-property dispatch,
 * its argument buffer and reflective creator call, and without parsing {@code occurred_at}
 * through {@code DateTimeFormatter}. Every usage event read from a topic is read here, once per
 * record; {@code UsageEventDeserializerTest} compares both on random and on malformed documents.
 *
 * <p>Only the shape every producer writes is read by hand: a JSON object whose values have the
 * expected JSON type (a string that is a canonical UUID, an RFC 3339 timestamp of the canonical
 * shape, a provider's wire name; an integer). Any other value ({@code null}, a number where a
 * string is, a non-canonical timestamp, ...) is read by Jackson's own deserializer of that
 * property, and any document whose event is incomplete or has a {@code null} is built by Jackson's
 * creator, so each coercion, default and error message stays Jackson's. Anything but an object
 * goes to Jackson's deserializer as a whole.
 *
 * <p>Jackson's reading is more lenient than the contract (a number as {@code event_id}, a provider
 * by its ordinal, {@code occurred_at} as epoch seconds or padded text): kept as it was on purpose,
 * since this class only changes how fast events are read, not which.
 */
final class UsageEventDeserializer extends StdDeserializer<UsageEvent>
        implements ResolvableDeserializer, ContextualDeserializer {

    /** The creator's properties, in the order of {@code UsageEvent.fromJson}'s parameters. */
    static final List<String> FIELDS = List.of("event_id", "user_id", "occurred_at", "provider", "endpoint", "method",
            "status_code", "response_time_ms", "request_bytes", "response_bytes", "tokens", "units");
    private static final int EVENT_ID = 0;
    private static final int USER_ID = 1;
    private static final int OCCURRED_AT = 2;
    private static final int PROVIDER = 3;
    private static final int ENDPOINT = 4;
    private static final int METHOD = 5;
    private static final int STATUS_CODE = 6;
    private static final int RESPONSE_TIME_MS = 7;
    private static final int REQUEST_BYTES = 8;
    private static final int RESPONSE_BYTES = 9;
    private static final int TOKENS = 10;
    private static final int UNITS = 11;
    private static final int COUNT = 12;
    private static final int ALL = (1 << COUNT) - 1;
    private static final int REQUIRED = (1 << TOKENS) - 1;
    /** Features under which Jackson's creator refuses what the hand-written build would accept. */
    private static final int CREATOR_CHECKS = DeserializationFeature.FAIL_ON_NULL_CREATOR_PROPERTIES.getMask()
            | DeserializationFeature.FAIL_ON_MISSING_CREATOR_PROPERTIES.getMask();
    private static final Provider[] PROVIDERS = Provider.values();

    /** Jackson's deserializer of the record: every case the hand-written path does not take. */
    private final BeanDeserializerBase jackson;
    /** Jackson's creator properties by index, each with its value deserializer (after {@link #resolve}). */
    private SettableBeanProperty[] properties;

    UsageEventDeserializer(BeanDeserializerBase jackson) {
        super(UsageEvent.class);
        this.jackson = jackson;
    }

    /** Puts this deserializer in front of Jackson's for {@link UsageEvent}. */
    static BeanDeserializerModifier modifier() {
        return new BeanDeserializerModifier() {
            @Override
            public JsonDeserializer<?> modifyDeserializer(DeserializationConfig config, BeanDescription beanDesc,
                                                          JsonDeserializer<?> deserializer) {
                if (beanDesc.getBeanClass() == UsageEvent.class && deserializer instanceof BeanDeserializerBase bean) {
                    return new UsageEventDeserializer(bean);
                }
                return deserializer;
            }
        };
    }

    @Override
    public void resolve(DeserializationContext ctxt) throws JsonMappingException {
        jackson.resolve(ctxt);
        SettableBeanProperty[] byIndex = new SettableBeanProperty[COUNT];
        for (Iterator<SettableBeanProperty> it = jackson.creatorProperties(); it.hasNext(); ) {
            SettableBeanProperty property = it.next();
            int index = property.getCreatorIndex();
            if (index < 0 || index >= COUNT || !FIELDS.get(index).equals(property.getName())) {
                throw new IllegalStateException("UsageEvent's JSON creator no longer matches UsageEventDeserializer: "
                        + property.getName() + " at " + index);
            }
            byIndex[index] = property;
        }
        List<Object> known = new ArrayList<>(jackson.getKnownPropertyNames());
        if (Arrays.asList(byIndex).contains(null) || !FIELDS.containsAll(known)) {
            throw new IllegalStateException("UsageEvent's JSON properties no longer match UsageEventDeserializer: "
                    + known);
        }
        properties = byIndex;
    }

    @Override
    public JsonDeserializer<?> createContextual(DeserializationContext ctxt, BeanProperty property)
            throws JsonMappingException {
        JsonDeserializer<?> contextual = ctxt.handleSecondaryContextualization(jackson, property,
                ctxt.constructType(UsageEvent.class));
        // A property that changes how events are read (ignorals, format) gets Jackson's reading.
        return contextual == jackson ? this : contextual;
    }

    @Override
    public UsageEvent deserialize(JsonParser p, DeserializationContext ctxt) throws IOException {
        if (!p.isExpectedStartObjectToken() || (ctxt.getDeserializationFeatures() & CREATOR_CHECKS) != 0) {
            return (UsageEvent) jackson.deserialize(p, ctxt);
        }
        String eventId = null;
        UUID userId = null;
        Instant occurredAt = null;
        Provider provider = null;
        String endpoint = null;
        String method = null;
        int statusCode = 0;
        long responseTimeMs = 0;
        long requestBytes = 0;
        long responseBytes = 0;
        long tokens = 0;
        long units = 0;
        int seen = 0;
        // Values Jackson's property deserializers read (bit set in `delegated`), exactly as they returned them.
        Object[] jacksonValues = null;
        int delegated = 0;
        TokenBuffer unknown = null;
        int next = 0;
        while (true) {
            // The parser's canonical name (no allocation); producers write the contract's order.
            String name = p.nextFieldName();
            if (name == null) {
                break; // END_OBJECT: the parser reports anything else itself
            }
            int index = next < COUNT && name.equals(FIELDS.get(next)) ? next : FIELDS.indexOf(name);
            if (index < 0) {
                p.nextToken();
                // Jackson keeps unknown properties until the event is built, then reports the first.
                if (unknown == null) {
                    unknown = ctxt.bufferForInputBuffering(p);
                }
                unknown.writeFieldName(name);
                unknown.copyCurrentStructure(p);
                continue;
            }
            next = index + 1;
            JsonToken token = p.nextToken();
            boolean handWritten = true;
            try {
                switch (index) {
                    case EVENT_ID -> {
                        if (token == JsonToken.VALUE_STRING) {
                            eventId = p.getText();
                        } else {
                            handWritten = false;
                        }
                    }
                    case USER_ID -> {
                        userId = token == JsonToken.VALUE_STRING ? canonicalUuid(p) : null;
                        handWritten = userId != null;
                    }
                    case OCCURRED_AT -> {
                        occurredAt = token == JsonToken.VALUE_STRING
                                ? OccurredAtParser.parseCanonical(p.getText()) : null;
                        handWritten = occurredAt != null;
                    }
                    case PROVIDER -> {
                        provider = token == JsonToken.VALUE_STRING ? provider(p) : null;
                        handWritten = provider != null;
                    }
                    case ENDPOINT -> {
                        if (token == JsonToken.VALUE_STRING) {
                            endpoint = p.getText();
                        } else {
                            handWritten = false;
                        }
                    }
                    case METHOD -> {
                        if (token == JsonToken.VALUE_STRING) {
                            method = p.getText();
                        } else {
                            handWritten = false;
                        }
                    }
                    case STATUS_CODE -> {
                        if (token == JsonToken.VALUE_NUMBER_INT) {
                            statusCode = p.getIntValue();
                        } else {
                            handWritten = false;
                        }
                    }
                    default -> {
                        if (token == JsonToken.VALUE_NUMBER_INT) {
                            long value = p.getLongValue();
                            switch (index) {
                                case RESPONSE_TIME_MS -> responseTimeMs = value;
                                case REQUEST_BYTES -> requestBytes = value;
                                case RESPONSE_BYTES -> responseBytes = value;
                                case TOKENS -> tokens = value;
                                default -> units = value;
                            }
                        } else {
                            handWritten = false;
                        }
                    }
                }
                if (handWritten) {
                    delegated &= ~(1 << index);
                } else {
                    if (jacksonValues == null) {
                        jacksonValues = new Object[COUNT];
                    }
                    jacksonValues[index] = properties[index].deserialize(p, ctxt);
                    delegated |= 1 << index;
                }
            } catch (Exception e) {
                jackson.wrapAndThrow(e, UsageEvent.class, properties[index].getName(), ctxt);
            }
            int before = seen;
            seen |= 1 << index;
            if (seen == ALL && before != ALL) {
                // As Jackson: once every creator property is set, build, then read what follows.
                p.nextToken();
                UsageEvent event = delegated == 0
                        ? new UsageEvent(eventId, userId, occurredAt, provider, endpoint, method, statusCode,
                                responseTimeMs, requestBytes, responseBytes, tokens, units)
                        : jacksonBuild(p, ctxt, seen, delegated, jacksonValues, eventId, userId, occurredAt,
                                provider, endpoint, method, statusCode, responseTimeMs, requestBytes, responseBytes,
                                tokens, units);
                p.assignCurrentValue(event);
                if (unknown != null) {
                    reportUnknown(ctxt, event, unknown);
                }
                if (p.currentToken() == JsonToken.END_OBJECT) {
                    return event;
                }
                return (UsageEvent) jackson.deserialize(p, ctxt, event);
            }
        }
        UsageEvent event = (seen & REQUIRED) == REQUIRED && delegated == 0
                ? new UsageEvent(eventId, userId, occurredAt, provider, endpoint, method, statusCode, responseTimeMs,
                        requestBytes, responseBytes, (seen & 1 << TOKENS) != 0 ? tokens : UsageEvent.DEFAULT_TOKENS,
                        (seen & 1 << UNITS) != 0 ? units : UsageEvent.DEFAULT_UNITS)
                : jacksonBuild(p, ctxt, seen, delegated, jacksonValues, eventId, userId, occurredAt, provider, endpoint,
                        method, statusCode, responseTimeMs, requestBytes, responseBytes, tokens, units);
        if (unknown != null) {
            reportUnknown(ctxt, event, unknown);
        }
        return event;
    }

    /**
     * Jackson's own creator call, for an event with a missing property or a value the hand-written
     * build does not take (a {@code null}, a coerced value): same defaults, same failures.
     */
    private UsageEvent jacksonBuild(JsonParser p, DeserializationContext ctxt, int seen, int delegated,
                                    Object[] jacksonValues, String eventId, UUID userId, Instant occurredAt,
                                    Provider provider, String endpoint, String method, int statusCode,
                                    long responseTimeMs, long requestBytes, long responseBytes, long tokens,
                                    long units) throws IOException {
        Object[] handWritten = {eventId, userId, occurredAt, provider, endpoint, method, statusCode, responseTimeMs,
                requestBytes, responseBytes, tokens, units};
        PropertyValueBuffer buffer = new PropertyValueBuffer(p, ctxt, COUNT, null, null);
        for (int i = 0; i < COUNT; i++) {
            if ((seen & 1 << i) != 0) {
                buffer.assignParameter(properties[i], (delegated & 1 << i) != 0 ? jacksonValues[i] : handWritten[i]);
            }
        }
        Object event;
        try {
            event = jackson.getValueInstantiator().createFromObjectWith(ctxt, properties, buffer);
        } catch (Exception e) {
            event = wrapInstantiationProblem(e, ctxt);
        }
        return (UsageEvent) event;
    }

    /** As {@code BeanDeserializerBase.wrapInstantiationProblem}. */
    private static Object wrapInstantiationProblem(Throwable t, DeserializationContext ctxt) throws IOException {
        while (t instanceof InvocationTargetException && t.getCause() != null) {
            t = t.getCause();
        }
        ClassUtil.throwIfError(t);
        if (t instanceof IOException io) {
            throw io;
        }
        if (!ctxt.isEnabled(DeserializationFeature.WRAP_EXCEPTIONS)) {
            ClassUtil.throwIfRTE(t);
        }
        return ctxt.handleInstantiationProblem(UsageEvent.class, null, t);
    }

    /** As {@code BeanDeserializerBase.handleUnknownProperties}: the first unknown property fails (if configured). */
    private void reportUnknown(DeserializationContext ctxt, UsageEvent event, TokenBuffer unknown) throws IOException {
        unknown.writeEndObject();
        try (JsonParser buffered = unknown.asParser()) {
            while (buffered.nextToken() != JsonToken.END_OBJECT) {
                String name = buffered.currentName();
                buffered.nextToken();
                if (!ctxt.handleUnknownProperty(buffered, jackson, event, name)) {
                    buffered.skipChildren();
                }
            }
        }
    }

    /** 8-4-4-4-12 hex digits of either case, as Jackson's {@code UUIDDeserializer} reads them; else {@code null}. */
    private static UUID canonicalUuid(JsonParser p) throws IOException {
        if (p.getTextLength() != 36) {
            return null;
        }
        char[] text = p.getTextCharacters();
        int offset = p.getTextOffset();
        long high = 0;
        long low = 0;
        for (int i = 0; i < 36; i++) {
            char c = text[offset + i];
            if (i == 8 || i == 13 || i == 18 || i == 23) {
                if (c != '-') {
                    return null;
                }
                continue;
            }
            int digit = hexDigit(c);
            if (digit < 0) {
                return null;
            }
            if (i < 18) {
                high = high << 4 | digit;
            } else {
                low = low << 4 | digit;
            }
        }
        return new UUID(high, low);
    }

    private static int hexDigit(char c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        } else if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return -1;
    }

    /** The provider whose wire name is exactly the current string (Jackson's exact-name lookup), else {@code null}. */
    private static Provider provider(JsonParser p) throws IOException {
        int length = p.getTextLength();
        char[] text = p.getTextCharacters();
        int offset = p.getTextOffset();
        for (Provider provider : PROVIDERS) {
            String name = provider.wireName();
            if (name.length() == length && sameChars(name, text, offset)) {
                return provider;
            }
        }
        return null;
    }

    private static boolean sameChars(String name, char[] text, int offset) {
        for (int i = 0; i < name.length(); i++) {
            if (name.charAt(i) != text[offset + i]) {
                return false;
            }
        }
        return true;
    }

    // Everything else is Jackson's deserializer's.

    @Override
    public Object deserializeWithType(JsonParser p, DeserializationContext ctxt, TypeDeserializer typeDeserializer)
            throws IOException {
        return jackson.deserializeWithType(p, ctxt, typeDeserializer);
    }

    @Override
    public UsageEvent deserialize(JsonParser p, DeserializationContext ctxt, UsageEvent intoValue) throws IOException {
        return (UsageEvent) jackson.deserialize(p, ctxt, intoValue);
    }

    @Override
    public Collection<Object> getKnownPropertyNames() {
        return jackson.getKnownPropertyNames();
    }

    @Override
    public SettableBeanProperty findBackReference(String refName) {
        return jackson.findBackReference(refName);
    }

    @Override
    public Boolean supportsUpdate(DeserializationConfig config) {
        return jackson.supportsUpdate(config);
    }

    @Override
    public LogicalType logicalType() {
        return jackson.logicalType();
    }

    @Override
    public boolean isCachable() {
        return true;
    }

    @Override
    public UsageEvent getNullValue(DeserializationContext ctxt) throws JsonMappingException {
        return (UsageEvent) jackson.getNullValue(ctxt);
    }

    @Override
    public AccessPattern getNullAccessPattern() {
        return jackson.getNullAccessPattern();
    }

    @Override
    public Object getEmptyValue(DeserializationContext ctxt) throws JsonMappingException {
        return jackson.getEmptyValue(ctxt);
    }

    @Override
    public AccessPattern getEmptyAccessPattern() {
        return jackson.getEmptyAccessPattern();
    }

    @Override
    public Object getAbsentValue(DeserializationContext ctxt) throws JsonMappingException {
        return jackson.getAbsentValue(ctxt);
    }

    @Override
    public ObjectIdReader getObjectIdReader() {
        return jackson.getObjectIdReader();
    }
}
