package io.usagemeter.clients;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What an app that links the clients module gets: the runtime dependencies Maven resolved for it
 * ({@code target/runtime-dependencies.txt}, written by {@code dependency:list} before the tests), and a
 * class loader holding exactly those and the module's own classes.
 */
public final class ClientRuntime {

    /** An artifact as {@code dependency:list} prints it; {@code optional} ones are not passed on to an app. */
    public record Artifact(String groupId, String artifactId, String scope, boolean optional, Path file) {
        public String coordinates() {
            return groupId + ":" + artifactId;
        }
    }

    // group:artifact:type[:classifier]:version:scope:/absolute/file [(optional)] [-- module name]
    private static final Pattern LINE = Pattern.compile(
            "^\\s+([^:\\s]+):([^:\\s]+):[^:\\s]+(?::[^:\\s]+)?:[^:\\s]+:(compile|runtime|provided|system|test):(/[^\\s]+)(.*)$");

    private ClientRuntime() {
    }

    /** The artifacts an app inherits from the clients module (optional ones left out). */
    public static List<Artifact> inherited() {
        return all().stream().filter(a -> !a.optional()).toList();
    }

    /** Every runtime artifact of the module, optional ones included. */
    public static List<Artifact> all() {
        Path listing = Path.of("target", "runtime-dependencies.txt");
        List<String> lines;
        try {
            lines = Files.readAllLines(listing);
        } catch (IOException e) {
            throw new UncheckedIOException("no " + listing.toAbsolutePath() + ": run the tests through Maven", e);
        }
        List<Artifact> artifacts = new ArrayList<>();
        for (String line : lines) {
            Matcher m = LINE.matcher(line);
            if (m.matches()) {
                artifacts.add(new Artifact(m.group(1), m.group(2), m.group(3), m.group(5).contains("(optional)"),
                        Path.of(m.group(4))));
            }
        }
        if (artifacts.isEmpty()) {
            throw new IllegalStateException("no artifact read from " + listing.toAbsolutePath() + ": " + lines);
        }
        return artifacts;
    }

    /**
     * A class loader with the module's classes and the artifacts an app inherits, nothing else (its parent
     * is the platform loader: no test class, no test dependency).
     */
    public static URLClassLoader appClassLoader() {
        List<URL> urls = new ArrayList<>();
        try {
            urls.add(Path.of("target", "classes").toUri().toURL());
            for (Artifact a : inherited()) {
                urls.add(a.file().toUri().toURL());
            }
        } catch (MalformedURLException e) {
            throw new IllegalStateException(e);
        }
        return new URLClassLoader(urls.toArray(URL[]::new), ClassLoader.getPlatformClassLoader());
    }
}
