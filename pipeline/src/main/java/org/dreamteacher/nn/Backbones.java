package org.dreamteacher.nn;

import java.util.List;
import java.util.Locale;

/**
 * Backbone architectures by name, sized for small images: resnet18, resnet34, resnet50 (torchvision's layouts
 * with all widths scaled by {@code width / 64}) and convnext (ConvNeXt-T's depths 3, 3, 9, 3 with dims
 * width x 1, 2, 4, 8). Images of 64 px or less get a stride-1 stem (C2..C5 at strides 1, 2, 4, 8), larger
 * ones the usual stem (strides 4, 8, 16, 32).
 */
public final class Backbones {
    /** The names {@link #config} knows. */
    public static final List<String> NAMES = List.of("resnet18", "resnet34", "resnet50", "convnext");

    private Backbones() {}

    /** Whether images of this size get the small (stride-1) stem. */
    public static boolean smallStem(int imageSize) {
        return imageSize <= 64;
    }

    /** The config; unknown names and bad widths raise IllegalArgumentException. */
    public static ModelConfig config(String name, int width, int inChannels, int imageSize, int numClasses) {
        String key = name.toLowerCase(Locale.ROOT).replace("-", "");
        boolean small = smallStem(imageSize);
        return switch (key) {
            case "resnet18", "resnet34", "resnet50" -> new ResNetConfig(Integer.parseInt(key.substring(6)), width, inChannels, numClasses, small);
            case "convnext" -> {
                if (width < 1 || width > 8192) throw new IllegalArgumentException("convnext width must be in 1..8192, got " + width);
                yield ConvNeXtConfig.of(List.of(3, 3, 9, 3), List.of(width, 2 * width, 4 * width, 8 * width), inChannels, numClasses,
                        small ? 1 : 4);
            }
            default -> throw new IllegalArgumentException("unknown backbone '" + name + "' (" + String.join(", ", NAMES) + ")");
        };
    }

    /** One line describing a config. */
    public static String describe(ModelConfig c) {
        if (c instanceof ResNetConfig r)
            return "ResNet-" + r.depth() + " (width " + r.width() + ", " + (r.smallStem() ? "3x3/1 stem" : "7x7/2 stem + max-pool") + ")";
        if (c instanceof ConvNeXtConfig x) return "ConvNeXt (depths " + x.depths() + ", dims " + x.dims() + ", stem stride " + x.stemStride() + ")";
        return c.kind();
    }
}
