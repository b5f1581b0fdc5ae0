package io.usagemeter.notifier.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class DestinationPolicyTest {

    /** Names resolve as listed, so the test depends on no DNS. */
    private static final Map<String, String[]> NAMES = Map.of(
            "hooks.example.com", new String[] {"93.184.215.14"},
            "sneaky.example.com", new String[] {"93.184.215.14", "10.1.2.3"},
            "metadata.example.com", new String[] {"169.254.169.254"});

    private static InetAddress[] resolve(String host) throws UnknownHostException {
        String[] listed = NAMES.get(host);
        if (listed == null) {
            return InetAddress.getAllByName(host); // literals only in these tests
        }
        InetAddress[] addresses = new InetAddress[listed.length];
        for (int i = 0; i < listed.length; i++) {
            addresses[i] = InetAddress.getByName(listed[i]);
        }
        return addresses;
    }

    private final DestinationPolicy production = new DestinationPolicy(false, DestinationPolicyTest::resolve);
    private final DestinationPolicy development = new DestinationPolicy(true, DestinationPolicyTest::resolve);

    @ParameterizedTest
    @ValueSource(strings = {
            "http://127.0.0.1:9000/hook", "http://localhost/hook", "https://10.0.0.8/", "http://172.16.5.5/",
            "http://192.168.1.10/", "http://169.254.169.254/latest/meta-data", "http://[::1]:8080/", "http://[fd00::1]/",
            "http://[fe80::1]/", "http://0.0.0.0/", "http://100.64.0.1/", "http://[::ffff:127.0.0.1]/",
            "https://sneaky.example.com/hook", "https://metadata.example.com/"})
    void internalDestinationsAreRefusedWithoutTheDevFlag(String url) throws Exception {
        assertThatThrownBy(() -> production.check(url))
                .isInstanceOf(DestinationPolicy.RefusedDestination.class)
                .hasMessageContaining("METER_WEBHOOK_ALLOW_PRIVATE");
        assertThat(development.check(url).toString()).isEqualTo(url);
    }

    @Test
    void aPublicHttpsDestinationIsAccepted() throws Exception {
        assertThat(production.check("https://hooks.example.com/usage?x=1").getHost()).isEqualTo("hooks.example.com");
        assertThat(production.check("http://93.184.215.14:8080/").getPort()).isEqualTo(8080);
    }

    @ParameterizedTest
    @ValueSource(strings = {"ftp://hooks.example.com/", "file:///etc/passwd", "hooks.example.com/x", "",
            "https://user:pw@hooks.example.com/", "http:///nohost"})
    void onlyHttpAndHttpsUrlsWithAHostAndNoCredentialsAreAccepted(String url) {
        assertThatThrownBy(() -> development.check(url)).isInstanceOf(DestinationPolicy.RefusedDestination.class);
    }
}
