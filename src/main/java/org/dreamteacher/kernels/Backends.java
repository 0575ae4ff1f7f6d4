package org.dreamteacher.kernels;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Finds the {@link LossKernels} backends with {@link ServiceLoader} and picks one by name.
 *
 * <p>Names: {@code cpu}, {@code cuda}, {@code reference} (and any other backend on the class path), plus
 * {@code auto}: cuda for CUDA tensors, cpu otherwise. The default is {@code auto}, overridden by the system
 * property {@value #PROPERTY} or, failing that, the environment variable {@value #ENVIRONMENT}.
 */
public final class Backends {
    public static final String PROPERTY = "dreamteacher.backend";
    public static final String ENVIRONMENT = "DREAMTEACHER_BACKEND";
    public static final String AUTO = "auto";

    private static final Map<String, LossKernels> ALL = discover();

    private Backends() {}

    private static Map<String, LossKernels> discover() {
        Map<String, LossKernels> found = new TreeMap<>();
        for (LossKernels k : ServiceLoader.load(LossKernels.class, Backends.class.getClassLoader())) {
            found.putIfAbsent(k.name(), k);
        }
        return Collections.unmodifiableMap(found);
    }

    /** Every backend found, available or not, by name in alphabetical order (whatever the class path's order). */
    public static Map<String, LossKernels> all() {
        return ALL;
    }

    /** Names of the backends that can run here. */
    public static List<String> availableNames() {
        return ALL.values().stream().filter(LossKernels::isAvailable).map(LossKernels::name)
                .collect(Collectors.toList());
    }

    /**
     * The backend of that name ({@code auto} included).
     *
     * @throws IllegalArgumentException for an unknown name
     * @throws BackendUnavailableException if it cannot run here (the message says why, and what can)
     */
    public static LossKernels get(String name) {
        String key = name.trim().toLowerCase(java.util.Locale.ROOT);
        if (key.equals(AUTO)) return AutoLossKernels.INSTANCE;
        LossKernels k = ALL.get(key);
        if (k == null) {
            List<String> known = new ArrayList<>(ALL.keySet());
            known.add(AUTO);
            throw new IllegalArgumentException("unknown loss-kernel backend '" + name + "'; known: "
                    + String.join(", ", known));
        }
        String why = k.unavailableReason();
        if (why != null) {
            throw new BackendUnavailableException("loss-kernel backend '" + key + "' is unavailable: " + why
                    + "; available: " + String.join(", ", availableNames()));
        }
        return k;
    }

    /** The configured backend: {@value #PROPERTY}, else {@value #ENVIRONMENT}, else {@code auto}. */
    public static LossKernels selected() {
        return get(selectedName());
    }

    /** The configured backend's name, as {@link #selected()} reads it. */
    public static String selectedName() {
        String name = System.getProperty(PROPERTY);
        if (name == null || name.isBlank()) name = System.getenv(ENVIRONMENT);
        return name == null || name.isBlank() ? AUTO : name;
    }
}
