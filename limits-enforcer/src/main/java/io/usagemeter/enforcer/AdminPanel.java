package io.usagemeter.enforcer;

import io.usagemeter.kit.StaticFiles;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * The admin panel at {@code /admin}: a static page and its ES modules and styles, from this jar, and the chart
 * library from its WebJar. The page holds no logic of its own: it calls the admin API ({@link AdminRoutes})
 * and the limit routes with the admin token the user signs in with.
 *
 * <p>What a browser may keep: the chart library's URL carries its version, so it is kept a year; the panel's
 * own files are revalidated on each load; the page itself is never kept, so a new release shows at once. The
 * page may load scripts, styles and data only from this server (no inline script, no other origin). The page
 * names its files by absolute paths, so {@code /admin} and {@code /admin/} both serve it as it is (a redirect from
 * one to the other would loop: the router does not tell them apart).
 */
final class AdminPanel {

    static final String PATH = "/admin";
    static final String CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; "
            + "img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
            + "frame-ancestors 'none'";
    private static final String UPLOT = "uplot";

    private AdminPanel() {
    }

    /** The files, most specific first: the chart library, the panel's assets, the page. */
    static List<StaticFiles> files() {
        String uplot = webJarVersion(UPLOT);
        return List.of(
                // The WebJar's version directory, not its dist/: the jar has no entry for dist/ itself, which a classpath
                // directory needs to be served.
                StaticFiles.of(PATH + "/vendor/uplot/" + uplot, "/META-INF/resources/webjars/uplot/" + uplot,
                        StaticFiles.CACHE_IMMUTABLE, Map.of()),
                StaticFiles.of(PATH + "/assets", "/admin/assets", StaticFiles.CACHE_REVALIDATE, Map.of()),
                StaticFiles.of(PATH, "/admin", StaticFiles.CACHE_NEVER, Map.of(
                        "Content-Security-Policy", CONTENT_SECURITY_POLICY,
                        // The sign-in link's token is in the fragment, never sent; no page URL leaks to another site either.
                        "Referrer-Policy", "no-referrer")));
    }

    /** The version of an {@code org.webjars.npm} WebJar on the classpath (its Maven properties). */
    static String webJarVersion(String artifact) {
        String resource = "/META-INF/maven/org.webjars.npm/" + artifact + "/pom.properties";
        try (InputStream in = AdminPanel.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("the admin panel needs the WebJar org.webjars.npm:" + artifact
                        + " on the classpath (" + resource + " not found)");
            }
            Properties props = new Properties();
            props.load(in);
            return props.getProperty("version");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + resource, e);
        }
    }
}
