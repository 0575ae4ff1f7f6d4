package org.dreamteacher.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Settings records are built by name ({@code Distiller.Settings.defaults().withSteps(...)}), never by position
 * outside the record itself: a positional call of fifteen numbers silently changes meaning when a component is
 * added or reordered. Checks every main and test source of the modules.
 */
class SettingsByNameTest {
    private static final Pattern POSITIONAL = Pattern.compile("new\\s+[A-Z]\\w*\\.Settings\\s*\\(");

    @Test
    void noSettingsRecordIsBuiltPositionallyOutsideItself() throws IOException {
        Path root = Path.of("").toAbsolutePath();
        while (root != null && !Files.isRegularFile(root.resolve("docs/design.md"))) root = root.getParent();
        assertTrue(root != null, "the repository root (docs/design.md) was not found");
        List<String> found = new ArrayList<>();
        int files = 0;
        for (String module : List.of("pipeline", "cli", "benchmarks")) {
            Path src = root.resolve(module).resolve("src");
            if (!Files.isDirectory(src)) continue;
            try (Stream<Path> s = Files.walk(src)) {
                for (Path f : s.filter(p -> p.toString().endsWith(".java")).toList()) {
                    files++;
                    String text = Files.readString(f, StandardCharsets.UTF_8);
                    Matcher m = POSITIONAL.matcher(text);
                    while (m.find()) found.add(root.relativize(f) + ": " + m.group());
                }
            }
        }
        assertTrue(files > 100, "only " + files + " sources found under " + root);
        assertEquals(List.of(), found, "build these settings with defaults() and named withers");
    }

    @Test
    void thePatternFindsAPositionalCall() {
        assertTrue(POSITIONAL.matcher("x = new Distiller" + ".Settings(1, 2, 3);").find());
        assertTrue(!POSITIONAL.matcher("x = Distiller.Settings.defaults().withSteps(1);").find());
    }
}
