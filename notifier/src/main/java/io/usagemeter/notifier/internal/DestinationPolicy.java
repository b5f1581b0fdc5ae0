package io.usagemeter.notifier.internal;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.util.Locale;

/**
 * Where webhooks may go: {@code http} and {@code https} URLs only, and, unless private destinations
 * are allowed (development), never to a loopback, private, link-local, unique-local, multicast or
 * unspecified address. The host is resolved and every address it resolves to is checked, so a public
 * name pointing at an internal address is refused as well. Checked when an endpoint is registered and
 * again before every attempt (a name may be re-pointed later); redirects are never followed.
 */
public final class DestinationPolicy {

    /** Refused, with a reason fit for an API error or the delivery log. */
    public static final class RefusedDestination extends Exception {
        RefusedDestination(String reason) {
            super(reason, null, false, false);
        }
    }

    /** Resolves host names; tests may substitute one, production uses DNS. */
    @FunctionalInterface
    public interface Resolver {
        InetAddress[] resolve(String host) throws UnknownHostException;
    }

    private static final int MAX_URL_LENGTH = 2048;

    private final boolean allowPrivate;
    private final Resolver resolver;

    public DestinationPolicy(boolean allowPrivate) {
        this(allowPrivate, InetAddress::getAllByName);
    }

    public DestinationPolicy(boolean allowPrivate, Resolver resolver) {
        this.allowPrivate = allowPrivate;
        this.resolver = resolver;
    }

    public boolean allowPrivate() {
        return allowPrivate;
    }

    /** The URL as given, if its form is acceptable (no address check). */
    public static URI parse(String url) throws RefusedDestination {
        if (url == null || url.isBlank()) {
            throw new RefusedDestination("is required: an http or https URL");
        }
        if (url.length() > MAX_URL_LENGTH) {
            throw new RefusedDestination("must be at most " + MAX_URL_LENGTH + " characters");
        }
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException e) {
            throw new RefusedDestination("is not a valid URL: " + e.getReason());
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) {
            throw new RefusedDestination("must be an http or https URL, was scheme '" + scheme + "'");
        }
        if (uri.getHost() == null || uri.getHost().isBlank()) {
            throw new RefusedDestination("must name a host");
        }
        if (uri.getRawUserInfo() != null) {
            throw new RefusedDestination("must not carry credentials (user:password@)");
        }
        if (uri.getRawFragment() != null) {
            throw new RefusedDestination("must not have a fragment (#...)");
        }
        return uri;
    }

    /** Refuses the URL if its form is wrong or, without {@code allowPrivate}, any address of its host is internal. */
    public URI check(String url) throws RefusedDestination {
        URI uri = parse(url);
        if (allowPrivate) {
            return uri;
        }
        String host = uri.getHost();
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        InetAddress[] addresses;
        try {
            addresses = resolver.resolve(host);
        } catch (UnknownHostException e) {
            throw new RefusedDestination("host '" + host + "' does not resolve");
        }
        for (InetAddress address : addresses) {
            if (isInternal(address)) {
                throw new RefusedDestination("host '" + host + "' resolves to " + address.getHostAddress()
                        + ", a loopback, private or link-local address (allowed only with METER_WEBHOOK_ALLOW_PRIVATE=true)");
            }
        }
        return uri;
    }

    static boolean isInternal(InetAddress address) {
        if (address.isLoopbackAddress() || address.isSiteLocalAddress() || address.isLinkLocalAddress()
                || address.isAnyLocalAddress() || address.isMulticastAddress()) {
            return true;
        }
        byte[] b = address.getAddress();
        if (address instanceof Inet4Address) {
            int first = b[0] & 0xff;
            int second = b[1] & 0xff;
            // 0.0.0.0/8 "this network", 100.64.0.0/10 carrier-grade NAT, 198.18.0.0/15 benchmarking, 240/4 reserved
            return first == 0 || (first == 100 && second >= 64 && second < 128) || (first == 198 && (second == 18 || second == 19))
                    || first >= 240;
        }
        if (address instanceof Inet6Address) {
            // fc00::/7 unique local; ::ffff:a.b.c.d is checked as the IPv4 address it maps
            if ((b[0] & 0xfe) == 0xfc) {
                return true;
            }
            boolean mapped = true;
            for (int i = 0; i < 10; i++) {
                mapped &= b[i] == 0;
            }
            if (mapped && (b[10] & 0xff) == 0xff && (b[11] & 0xff) == 0xff) {
                try {
                    return isInternal(InetAddress.getByAddress(new byte[] {b[12], b[13], b[14], b[15]}));
                } catch (UnknownHostException e) {
                    return true;
                }
            }
        }
        return false;
    }
}
