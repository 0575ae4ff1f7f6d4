package org.dreamteacher.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Holds every main source file of the project's modules to the table of allowed package dependencies in
 * docs/design.md section 2: a file may refer (by an import or a fully qualified name outside comments and
 * strings) only to its own package and those its package's row lists.
 */
class PackageDependenciesTest {
    private static final String PREFIX = "org.dreamteacher.";
    /** The main source roots of the modules, relative to the repository root. */
    private static final List<String> SOURCE_ROOTS = List.of("src/main/java", "djl/src/main/java", "torch/src/main/java",
            "pipeline/src/main/java", "cli/src/main/java", "benchmarks/src/main/java");
    private static final Pattern ROW = Pattern.compile("^\\| `([a-z.]+)` \\| (.*) \\|$");
    private static final Pattern PACKAGE = Pattern.compile("^package (org\\.dreamteacher\\.[a-z.]+);", Pattern.MULTILINE);
    private static final Pattern REFERENCE = Pattern.compile("\\borg\\.dreamteacher\\.((?:[a-z][a-z0-9]*\\.)*[a-z][a-z0-9]*)\\.[A-Z*]");

    private static Path root;
    private static Map<String, Set<String>> allowed;

    @BeforeAll
    static void readTable() throws IOException {
        root = Path.of("").toAbsolutePath();
        while (root != null && !Files.isRegularFile(root.resolve("docs/design.md"))) root = root.getParent();
        assertTrue(root != null, "docs/design.md not found above " + Path.of("").toAbsolutePath());
        allowed = table(Files.readAllLines(root.resolve("docs/design.md"), StandardCharsets.UTF_8));
    }

    /** The rows of the "| package | may use |" table: package (without the prefix) to the packages it may use. */
    static Map<String, Set<String>> table(List<String> lines) {
        Map<String, Set<String>> rows = new TreeMap<>();
        boolean inTable = false;
        for (String line : lines) {
            if (line.equals("| package | may use |")) {
                inTable = true;
                continue;
            }
            if (!inTable || line.startsWith("| ---")) continue;
            Matcher m = ROW.matcher(line);
            if (!m.matches()) {
                if (!rows.isEmpty()) break;
                continue;
            }
            Set<String> uses = new TreeSet<>();
            Matcher used = Pattern.compile("`([a-z.]+)`").matcher(m.group(2));
            while (used.find()) uses.add(used.group(1));
            rows.put(m.group(1), uses);
        }
        return rows;
    }

    /** The source without comments, string and character literals and text blocks, so that only code is searched. */
    static String code(String source) {
        StringBuilder out = new StringBuilder(source.length());
        int i = 0, n = source.length();
        while (i < n) {
            char c = source.charAt(i);
            if (source.startsWith("//", i)) {
                while (i < n && source.charAt(i) != '\n') i++;
            } else if (source.startsWith("/*", i)) {
                int end = source.indexOf("*/", i + 2);
                i = end < 0 ? n : end + 2;
                out.append(' ');
            } else if (source.startsWith("\"\"\"", i)) {
                int end = source.indexOf("\"\"\"", i + 3);
                i = end < 0 ? n : end + 3;
                out.append("\"\"");
            } else if (c == '"' || c == '\'') {
                int j = i + 1;
                while (j < n && source.charAt(j) != c && source.charAt(j) != '\n') j += source.charAt(j) == '\\' ? 2 : 1;
                i = j + 1;
                out.append(c).append(c);
            } else {
                out.append(c);
                i++;
            }
        }
        return out.toString();
    }

    /** The project packages that {@code source} refers to, without the prefix. */
    static Set<String> references(String source) {
        Set<String> used = new TreeSet<>();
        Matcher m = REFERENCE.matcher(code(source));
        while (m.find()) used.add(m.group(1));
        return used;
    }

    @Test
    void everyMainSourceFileUsesOnlyTheAllowedPackages() throws IOException {
        List<String> violations = new ArrayList<>();
        Set<String> packages = new TreeSet<>();
        int files = 0;
        for (Path file : mainSources()) {
            String source = Files.readString(file, StandardCharsets.UTF_8);
            Matcher p = PACKAGE.matcher(source);
            if (!p.find()) continue;
            String pkg = p.group(1).substring(PREFIX.length());
            packages.add(pkg);
            files++;
            Set<String> may = allowed.get(pkg);
            if (may == null) continue;
            String code = code(source);
            for (String used : references(source)) {
                if (used.equals(pkg) || may.contains(used)) continue;
                violations.add(root.relativize(file) + ": package " + pkg + " uses " + used + " (" + firstLine(code, PREFIX + used + ".") + ")");
            }
            if (!pkg.equals("cli") && code.contains("picocli")) violations.add(root.relativize(file) + ": only cli may use picocli");
        }
        assertTrue(files > 100, "read only " + files + " source files under " + root);
        assertEquals(new TreeSet<>(), difference(packages, allowed.keySet()), "packages without a row in docs/design.md's table");
        assertEquals(new TreeSet<>(), difference(allowed.keySet(), packages), "rows of docs/design.md's table without sources");
        assertEquals(List.of(), violations, "dependencies that docs/design.md section 2 does not allow");
    }

    /** Layers, not a web: no package may reach itself through the packages it may use. */
    @Test
    void theTableHasNoCycle() {
        assertEquals(List.of(), cycles(allowed), "cycles in docs/design.md's table");
        assertEquals(List.of(List.of("a", "b", "a")), cycles(Map.of("a", Set.of("b"), "b", Set.of("a"))), "the check sees a cycle");
    }

    /** Each cycle of {@code uses}, as the path from a package back to itself (one per package that starts one). */
    static List<List<String>> cycles(Map<String, Set<String>> uses) {
        List<List<String>> found = new ArrayList<>();
        Set<String> done = new TreeSet<>();
        for (String start : new TreeSet<>(uses.keySet())) {
            if (done.contains(start)) continue;
            List<String> path = new ArrayList<>(List.of(start));
            if (reachesBack(start, start, uses, path, new TreeSet<>())) {
                found.add(path);
                done.addAll(path);
            }
        }
        return found;
    }

    private static boolean reachesBack(String from, String target, Map<String, Set<String>> uses, List<String> path, Set<String> seen) {
        for (String next : new TreeSet<>(uses.getOrDefault(from, Set.of()))) {
            if (next.equals(target)) {
                path.add(next);
                return true;
            }
            if (!seen.add(next)) continue;
            path.add(next);
            if (reachesBack(next, target, uses, path, seen)) return true;
            path.remove(path.size() - 1);
        }
        return false;
    }

    @Test
    void everyPackageHasAPackageInfoThatSaysWhatItMayUse() throws IOException {
        Set<Path> dirs = new LinkedHashSet<>();
        for (Path file : mainSources()) dirs.add(file.getParent());
        List<String> missing = new ArrayList<>();
        for (Path dir : dirs) {
            Path info = dir.resolve("package-info.java");
            if (!Files.isRegularFile(info)) missing.add(root.relativize(dir) + ": no package-info.java");
            else if (!Files.readString(info, StandardCharsets.UTF_8).toLowerCase(java.util.Locale.ROOT).contains("may use"))
                missing.add(root.relativize(info) + ": does not say what the package may use");
        }
        assertEquals(List.of(), missing);
    }

    /** The check itself: what counts as a reference, and what does not. */
    @Test
    void referencesAreImportsAndQualifiedNamesInCodeOnly() {
        String source = """
                package org.dreamteacher.nn;
                import org.dreamteacher.torch.TensorFile;
                import static org.dreamteacher.data.Splits.shuffled;
                import org.dreamteacher.train.*;
                /** See {@link org.dreamteacher.eval.Classifier}. */
                class X {
                    // org.dreamteacher.distill.Distiller in a comment
                    String s = "org.dreamteacher.cli.DreamTeacherCli";
                    Object o = new org.dreamteacher.diffusion.UNetConfig();
                }
                """;
        assertEquals(Set.of("torch", "data", "train", "diffusion"), references(source), "not the package line, the javadoc, the comment or the string");
        Map<String, Set<String>> t = table(List.of("text", "| package | may use |", "| --- | --- |", "| `nn` | `torch` |",
                "| `kernels.bindings` | (none) |", "", "| `after` | `the table` |"));
        assertEquals(Map.of("nn", Set.of("torch"), "kernels.bindings", Set.of()), t);
    }

    private static List<Path> mainSources() throws IOException {
        List<Path> files = new ArrayList<>();
        for (String r : SOURCE_ROOTS) {
            Path dir = root.resolve(r);
            if (!Files.isDirectory(dir)) continue;
            try (Stream<Path> s = Files.walk(dir)) {
                s.filter(f -> f.toString().endsWith(".java")).sorted().forEach(files::add);
            }
        }
        return files;
    }

    private static Set<String> difference(Set<String> a, Set<String> b) {
        Set<String> d = new TreeSet<>(a);
        d.removeAll(b);
        return d;
    }

    private static String firstLine(String code, String needle) {
        int at = code.indexOf(needle);
        if (at < 0) return "?";
        int from = code.lastIndexOf('\n', at) + 1, to = code.indexOf('\n', at);
        return code.substring(from, to < 0 ? code.length() : to).trim();
    }
}
