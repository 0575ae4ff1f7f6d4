package org.dreamteacher.diffusion;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.dreamteacher.nn.ModelConfig;

/**
 * The architecture of an ADM-style {@link UNet} (Dhariwal &amp; Nichol's guided-diffusion layout: input blocks,
 * a middle block, output blocks that concatenate the matching encoder activations). Every constraint between
 * the numbers is checked here, when the config is made, so that a bad config fails with a message instead of
 * a shape error deep inside a forward pass.
 *
 * @param inChannels           image channels (1 for grey, 3 for RGB)
 * @param outChannels          predicted channels (equal to {@code inChannels} for epsilon prediction)
 * @param imageSize            the (square) training resolution; must be divisible by 2^(levels-1)
 * @param baseChannels         channels of the first level; level {@code i} has {@code baseChannels * channelMult[i]}
 * @param channelMult          one multiplier per resolution level, e.g. [1, 2, 2]
 * @param numResBlocks         residual blocks per level in the encoder (the decoder has one more per level)
 * @param attentionResolutions feature-map sizes (e.g. [8] for 8x8) at which self-attention follows each residual block
 * @param numHeads             attention heads, used when {@code headChannels <= 0}
 * @param headChannels         channels per head; when positive it overrides {@code numHeads}
 * @param middleAttention      whether the middle block has self-attention (ADM always has it)
 * @param dropout              dropout probability inside residual blocks
 * @param numClasses           0 for an unconditional model, else the number of class labels (class embedding)
 * @param normGroups           GroupNorm groups (reduced where a layer has fewer channels, see {@code Layers.groupNorm})
 * @param taps                 decoder block indices whose outputs {@link UNet#features} returns
 */
public record UNetConfig(
        int inChannels,
        int outChannels,
        int imageSize,
        int baseChannels,
        List<Integer> channelMult,
        int numResBlocks,
        List<Integer> attentionResolutions,
        int numHeads,
        int headChannels,
        boolean middleAttention,
        double dropout,
        int numClasses,
        int normGroups,
        List<Integer> taps)
        implements ModelConfig {

    public UNetConfig {
        require(inChannels >= 1, "inChannels must be >= 1, got " + inChannels);
        require(outChannels >= 1, "outChannels must be >= 1, got " + outChannels);
        require(baseChannels >= 1, "baseChannels must be >= 1, got " + baseChannels);
        require(channelMult != null && !channelMult.isEmpty(), "channelMult must list at least one level");
        channelMult = List.copyOf(channelMult);
        for (int m : channelMult) require(m >= 1, "channelMult entries must be >= 1, got " + channelMult);
        require(numResBlocks >= 1, "numResBlocks must be >= 1, got " + numResBlocks);
        int levels = channelMult.size();
        require(levels <= 16, "at most 16 levels, got " + levels);
        int factor = 1 << (levels - 1);
        require(imageSize >= factor && imageSize % factor == 0, "imageSize " + imageSize + " must be a positive multiple of 2^(levels-1) = "
                + factor + " for " + levels + " levels");
        attentionResolutions = attentionResolutions == null ? List.of() : List.copyOf(attentionResolutions);
        List<Integer> resolutions = new ArrayList<>();
        for (int l = 0; l < levels; l++) resolutions.add(imageSize >> l);
        for (int r : attentionResolutions)
            require(resolutions.contains(r), "attention resolution " + r + " is not one of the U-Net's resolutions " + resolutions);
        require(dropout >= 0 && dropout < 1, "dropout must be in [0, 1), got " + dropout);
        require(numClasses >= 0, "numClasses must be >= 0 (0 = unconditional), got " + numClasses);
        require(normGroups >= 1, "normGroups must be >= 1, got " + normGroups);
        require(headChannels > 0 || numHeads >= 1, "numHeads must be >= 1 when headChannels is not set, got " + numHeads);
        for (int l = 0; l < levels; l++) {
            int ch = baseChannels * channelMult.get(l);
            boolean attn = attentionResolutions.contains(imageSize >> l) || (middleAttention && l == levels - 1);
            if (attn) checkHeads(ch, numHeads, headChannels);
        }
        taps = taps == null ? List.of() : List.copyOf(taps);
        int blocks = levels * (numResBlocks + 1);
        Set<Integer> seen = new HashSet<>();
        for (int t : taps) {
            require(t >= 0 && t < blocks, "tap " + t + " is out of range: this U-Net has " + blocks + " decoder blocks (0.." + (blocks - 1) + ")");
            require(seen.add(t), "tap " + t + " is listed twice");
        }
    }

    /**
     * A config with ADM's defaults for the rest: epsilon prediction ({@code outChannels == inChannels}), two
     * residual blocks per level, no attention except in the middle block, 4 heads, no dropout, unconditional,
     * 32 groups, {@link #defaultTaps default taps}.
     */
    public static UNetConfig of(int inChannels, int imageSize, int baseChannels, List<Integer> channelMult) {
        int levels = channelMult == null ? 1 : Math.max(1, channelMult.size());
        return new UNetConfig(inChannels, inChannels, imageSize, baseChannels, channelMult, 2, List.of(), 4, 0, true, 0.0, 0, 32,
                defaultTaps(levels, 2));
    }

    /**
     * The first decoder block of every level but the lowest one (ADM's 3, 6, 9, 12 for ImageNet-256 with two
     * residual blocks per level): one tap per resolution, at the start of each level where the upsampled
     * coarse features have just been merged with the encoder's skip connection.
     */
    public static List<Integer> defaultTaps(int levels, int numResBlocks) {
        List<Integer> taps = new ArrayList<>();
        for (int k = 1; k < levels; k++) taps.add(k * (numResBlocks + 1));
        return List.copyOf(taps);
    }

    @Override
    public String kind() {
        return "unet";
    }

    @Override
    public UNet build() {
        return new UNet(this);
    }

    public UNetConfig withTaps(List<Integer> newTaps) {
        return new UNetConfig(inChannels, outChannels, imageSize, baseChannels, channelMult, numResBlocks, attentionResolutions, numHeads,
                headChannels, middleAttention, dropout, numClasses, normGroups, newTaps);
    }

    public UNetConfig withNumResBlocks(int n) {
        List<Integer> t = taps.equals(defaultTaps(channelMult.size(), numResBlocks)) ? defaultTaps(channelMult.size(), n) : taps;
        return new UNetConfig(inChannels, outChannels, imageSize, baseChannels, channelMult, n, attentionResolutions, numHeads,
                headChannels, middleAttention, dropout, numClasses, normGroups, t);
    }

    public UNetConfig withAttention(List<Integer> resolutions, int heads, boolean middle) {
        return new UNetConfig(inChannels, outChannels, imageSize, baseChannels, channelMult, numResBlocks, resolutions, heads,
                0, middle, dropout, numClasses, normGroups, taps);
    }

    public UNetConfig withNumClasses(int classes) {
        return new UNetConfig(inChannels, outChannels, imageSize, baseChannels, channelMult, numResBlocks, attentionResolutions, numHeads,
                headChannels, middleAttention, dropout, classes, normGroups, taps);
    }

    public UNetConfig withDropout(double p) {
        return new UNetConfig(inChannels, outChannels, imageSize, baseChannels, channelMult, numResBlocks, attentionResolutions, numHeads,
                headChannels, middleAttention, p, numClasses, normGroups, taps);
    }

    public UNetConfig withNormGroups(int groups) {
        return new UNetConfig(inChannels, outChannels, imageSize, baseChannels, channelMult, numResBlocks, attentionResolutions, numHeads,
                headChannels, middleAttention, dropout, numClasses, groups, taps);
    }

    /** Number of resolution levels. */
    public int levels() {
        return channelMult.size();
    }

    /** Every encoder and decoder block has a 3x3 convolution from its input to its output channels; the middle has two res blocks. */
    @Override
    public long minimumParameters() {
        Layout l = layout();
        double total = 36.0 * l.middleChannels() * l.middleChannels();
        for (BlockSpec b : l.encoder()) total += 9.0 * b.inChannels() * b.outChannels();
        for (BlockSpec b : l.decoder()) total += 9.0 * b.inChannels() * b.outChannels();
        return (long) total; // saturates at Long.MAX_VALUE
    }

    /** Number of decoder blocks, i.e. the valid tap indices are 0 .. this - 1. */
    public int decoderBlockCount() {
        return levels() * (numResBlocks + 1);
    }

    /** Every decoder block with its channels and stride, in decoder order (largest stride first). */
    public List<TapInfo> decoderBlocks() {
        List<TapInfo> out = new ArrayList<>();
        List<BlockSpec> dec = layout().decoder();
        for (int i = 0; i < dec.size(); i++) {
            BlockSpec b = dec.get(i);
            out.add(new TapInfo(i, "out" + i, b.outChannels(), b.stride(), imageSize / b.stride(), b.attention()));
        }
        return Collections.unmodifiableList(out);
    }

    /** The configured taps, in the order {@link UNet#features} returns them (largest stride first, then index). */
    public List<TapInfo> tapInfos() {
        return tapInfos(taps);
    }

    /** The given decoder block indices, sorted as features are returned: largest stride first, then index. */
    public List<TapInfo> tapInfos(List<Integer> indices) {
        List<TapInfo> all = decoderBlocks();
        List<TapInfo> out = new ArrayList<>();
        for (int t : indices) {
            require(t >= 0 && t < all.size(), "tap " + t + " is out of range: this U-Net has " + all.size() + " decoder blocks (0.." + (all.size() - 1) + ")");
            if (out.stream().noneMatch(x -> x.index() == t)) out.add(all.get(t));
        }
        out.sort((a, b) -> a.stride() != b.stride() ? Integer.compare(b.stride(), a.stride()) : Integer.compare(a.index(), b.index()));
        return Collections.unmodifiableList(out);
    }

    /** Attention heads for a layer with {@code channels} channels. */
    int headsFor(int channels) {
        return headChannels > 0 ? channels / headChannels : numHeads;
    }

    private static void checkHeads(int channels, int numHeads, int headChannels) {
        if (headChannels > 0)
            require(channels % headChannels == 0, "attention layer with " + channels + " channels cannot be split into heads of " + headChannels + " channels");
        else
            require(channels % numHeads == 0, "attention layer with " + channels + " channels cannot be split into " + numHeads + " heads");
    }

    private static void require(boolean ok, String message) {
        if (!ok) throw new IllegalArgumentException("UNetConfig: " + message);
    }

    /**
     * One block of the layout. Encoder blocks are either a residual block (plus attention) or a downsampler;
     * decoder blocks are a residual block on (previous + skip) channels, plus attention, plus an upsampler
     * at the end of each level but the top one. {@code stride} is the stride of the block's output.
     */
    record BlockSpec(int inChannels, int outChannels, boolean attention, boolean down, boolean up, int stride) {}

    /** The whole layout: encoder blocks after the input convolution, the middle width, decoder blocks. */
    record Layout(int stemChannels, List<BlockSpec> encoder, int middleChannels, List<BlockSpec> decoder) {}

    /** Mirrors guided-diffusion's UNetModel constructor, channel by channel. */
    Layout layout() {
        int levels = levels();
        int ch = baseChannels * channelMult.get(0);
        int stem = ch;
        List<Integer> skipChannels = new ArrayList<>();
        skipChannels.add(ch);
        List<BlockSpec> enc = new ArrayList<>();
        int ds = 1;
        for (int level = 0; level < levels; level++) {
            int out = baseChannels * channelMult.get(level);
            for (int i = 0; i < numResBlocks; i++) {
                enc.add(new BlockSpec(ch, out, attentionResolutions.contains(imageSize / ds), false, false, ds));
                ch = out;
                skipChannels.add(ch);
            }
            if (level != levels - 1) {
                ds *= 2;
                enc.add(new BlockSpec(ch, ch, false, true, false, ds));
                skipChannels.add(ch);
            }
        }
        int middle = ch;
        List<BlockSpec> dec = new ArrayList<>();
        for (int level = levels - 1; level >= 0; level--) {
            int out = baseChannels * channelMult.get(level);
            for (int i = 0; i <= numResBlocks; i++) {
                int skip = skipChannels.remove(skipChannels.size() - 1);
                boolean attn = attentionResolutions.contains(imageSize / ds);
                boolean up = level > 0 && i == numResBlocks;
                if (up) ds /= 2;
                dec.add(new BlockSpec(ch + skip, out, attn, false, up, ds));
                ch = out;
            }
        }
        return new Layout(stem, List.copyOf(enc), middle, List.copyOf(dec));
    }
}
