package io.usagemeter.kit;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Files of a classpath directory served under a path, each answer with the same extra headers (what
 * to cache and for how long, a Content-Security-Policy). A directory's {@code index.html} answers the
 * directory itself ({@code /admin/}).
 *
 * <p>Several sets may share a path prefix: the first added that holds the requested file answers, so a
 * more specific set ({@code /admin/vendor/x/1.2.3}) goes before a general one ({@code /admin}).
 *
 * @param hostedPath where the files appear, e.g. {@code /admin/assets}
 * @param classpathDirectory where they are on the classpath, e.g. {@code /admin/assets} or a WebJar's
 *     {@code /META-INF/resources/webjars/<name>/<version>}
 * @param headers headers set on every answer of this set (not on its 404s)
 */
public record StaticFiles(String hostedPath, String classpathDirectory, Map<String, String> headers) {

    /** A year: the longest lifetime a browser is asked to keep a file, for URLs whose content never changes. */
    public static final String CACHE_IMMUTABLE = "public, max-age=31536000, immutable";
    /** Kept, but checked with the server before each use ({@code ETag}/{@code Last-Modified}). */
    public static final String CACHE_REVALIDATE = "no-cache";
    /** Never kept: an entry page, so a new release is picked up at once. */
    public static final String CACHE_NEVER = "no-store";

    public StaticFiles {
        Objects.requireNonNull(hostedPath, "hostedPath");
        Objects.requireNonNull(classpathDirectory, "classpathDirectory");
        if (!hostedPath.startsWith("/") || (hostedPath.length() > 1 && hostedPath.endsWith("/"))) {
            throw new IllegalArgumentException("hostedPath must start with / and not end with /: " + hostedPath);
        }
        if (!classpathDirectory.startsWith("/")) {
            throw new IllegalArgumentException("classpathDirectory must start with /: " + classpathDirectory);
        }
        headers = Map.copyOf(headers);
    }

    /** These files with {@code Cache-Control: cacheControl} and the given headers besides. */
    public static StaticFiles of(String hostedPath, String classpathDirectory, String cacheControl,
                                 Map<String, String> headers) {
        Map<String, String> all = new LinkedHashMap<>(headers);
        all.put("Cache-Control", Objects.requireNonNull(cacheControl, "cacheControl"));
        return new StaticFiles(hostedPath, classpathDirectory, all);
    }
}
