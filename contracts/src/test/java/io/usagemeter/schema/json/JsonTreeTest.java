package io.usagemeter.schema.json;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link Json#tree(byte[])} reads and fails exactly as the strict mapper's {@code readTree} does. */
class JsonTreeTest {

    private static final ObjectMapper STRICT = Json.newMapper();

    @ParameterizedTest
    @ValueSource(strings = {
            "{\"a\":1,\"b\":[1,2,{\"c\":null}],\"d\":\"x\"}", "[{\"a\":1},{\"a\":2}]", "[]", "{}", "", "   ", "12", "\"s\"",
            "{\"a\":1,\"a\":2}", "[{\"a\":1},{\"b\":1,\"c\":2,\"d\":3,\"b\":4}]", "{\"a\":{\"x\":1,\"x\":1}}",
            "{\"a\":1} {\"b\":2}", "{\"a\":1} 5", "[1] x", "{\"a\":1,\"a\":2} 5", "{\"a\":1}]", "[{\"a\":1,\"a\":2}, oops]", "[1,2", "{\"a\" 1}", "nul", "{\"a\":1,}",
    })
    void readsAndFailsLikeTheStrictMapper(String body) throws Exception {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        Throwable expected = catchThrowable(() -> STRICT.readTree(bytes));
        Throwable actual = catchThrowable(() -> Json.tree(bytes));
        if (expected == null) {
            assertThat(actual).isNull();
            assertThat(Json.tree(bytes)).isEqualTo(STRICT.readTree(bytes));
        } else {
            assertThat(actual).isInstanceOf(expected.getClass());
            assertThat(((JsonProcessingException) actual).getOriginalMessage())
                    .isEqualTo(((JsonProcessingException) expected).getOriginalMessage());
            assertThat(((JsonProcessingException) actual).getLocation().toString())
                    .isEqualTo(((JsonProcessingException) expected).getLocation().toString());
        }
    }
}
