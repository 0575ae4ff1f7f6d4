package org.dreamteacher.nn;

import static org.dreamteacher.nn.NnSupport.checkImage;
import static org.dreamteacher.nn.NnSupport.kaimingFanOut;
import static org.dreamteacher.nn.NnSupport.require;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.pytorch.BatchNorm2dImpl;
import org.bytedeco.pytorch.Conv2dImpl;
import org.bytedeco.pytorch.LinearImpl;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/**
 * ResNet-18/34/50, the paper's main student backbone, laid out as torchvision's (conv1, bn1, layer1..layer4,
 * fc, with torchvision's parameter names and initialisation), so that its parameter count and behaviour can be
 * checked against the reference. C2..C5 are the outputs of layer1..layer4.
 */
public final class ResNet extends ConfiguredModule implements Backbone {
    private volatile ResNetConfig config;
    private final Conv2dImpl conv1;
    private final BatchNorm2dImpl bn1;
    private final List<Stage> layers = new ArrayList<>();
    private final long[] channels = new long[4];
    private LinearImpl fc;

    ResNet(ResNetConfig config) {
        this.config = config;
        long in = config.inChannels();
        long w = config.width();
        conv1 = register_module("conv1", config.smallStem()
                ? Layers.conv(in, w, 3, 1, 1, false)
                : Layers.conv(in, w, 7, 2, 3, false));
        kaimingFanOut(conv1.weight());
        bn1 = register_module("bn1", Layers.batchNorm(w));
        int expansion = config.bottleneck() ? 4 : 1;
        int[] blocks = config.blocks();
        long inplanes = w;
        for (int s = 0; s < 4; s++) {
            long planes = w << s;
            Stage stage = new Stage();
            for (int b = 0; b < blocks[s]; b++) {
                long stride = (s > 0 && b == 0) ? 2 : 1;
                Block block = config.bottleneck()
                        ? new Bottleneck(inplanes, planes, stride)
                        : new BasicBlock(inplanes, planes, stride);
                stage.add(block);
                inplanes = planes * expansion;
            }
            layers.add(register_module("layer" + (s + 1), stage));
            channels[s] = inplanes;
        }
        if (config.numClasses() > 0) fc = register_module("fc", Layers.linear(channels[3], config.numClasses()));
    }

    @Override
    public ResNetConfig config() {
        return config;
    }

    @Override
    public List<FeatureMap> features(Tensor x) {
        checkImage(x, config.inChannels(), "resnet");
        Tensor h = torch.relu(bn1.forward(conv1.forward(x)));
        if (!config.smallStem()) h = torch.max_pool2d(h, new long[] {3, 3}, new long[] {2, 2}, new long[] {1, 1},
                new long[] {1, 1}, false);
        int[] strides = featureStrides();
        List<FeatureMap> out = new ArrayList<>(4);
        for (int s = 0; s < 4; s++) {
            h = layers.get(s).forward(h);
            out.add(new FeatureMap(LEVEL_NAMES.get(s), h, strides[s]));
        }
        return out;
    }

    @Override
    public long[] featureChannels() {
        return channels.clone();
    }

    @Override
    public int[] featureStrides() {
        return config.smallStem() ? new int[] {1, 2, 4, 8} : new int[] {4, 8, 16, 32};
    }

    @Override
    public Tensor pooledFeatures(Tensor x) {
        List<FeatureMap> f = features(x);
        return f.get(3).tensor().mean(2, 3);
    }

    @Override
    public Tensor classify(Tensor x) {
        return classifyFeatures(features(x));
    }

    @Override
    public Tensor classifyFeatures(List<FeatureMap> features) {
        LinearImpl head = fc;
        if (head == null) throw new IllegalStateException("this resnet has no classification head (numClasses = 0)");
        return head.forward(features.get(3).tensor().mean(2, 3));
    }

    @Override
    public long inChannels() {
        return config.inChannels();
    }

    @Override
    public int numClasses() {
        return config.numClasses();
    }

    @Override
    public synchronized void resetHead(int numClasses) {
        require(numClasses >= 0, "numClasses must be >= 0 (0 = no head), got " + numClasses);
        if (fc != null) unregister_module("fc");
        fc = numClasses > 0 ? register_module("fc", Layers.linear(channels[3], numClasses)) : null;
        config = config.withNumClasses(numClasses);
    }

    private static final List<String> HEAD_PREFIXES = List.of("fc.");

    @Override
    public List<String> headPrefixes() {
        return HEAD_PREFIXES;
    }

    @Override
    public List<Tensor> backboneParameters() {
        return NnSupport.parameters(this, HEAD_PREFIXES, false);
    }

    @Override
    public List<Tensor> headParameters() {
        return NnSupport.parameters(this, HEAD_PREFIXES, true);
    }

    private abstract static class Block extends Module implements Stage.Block {}

    /** 1x1 conv + BN on the shortcut, named "0" and "1" as torchvision's Sequential. */
    private static final class Downsample extends Module {
        private final Conv2dImpl conv;
        private final BatchNorm2dImpl bn;

        Downsample(long in, long out, long stride) {
            conv = register_module("0", Layers.conv(in, out, 1, stride, 0, false));
            kaimingFanOut(conv.weight());
            bn = register_module("1", Layers.batchNorm(out));
        }

        Tensor forward(Tensor x) {
            return bn.forward(conv.forward(x));
        }
    }

    private static Conv2dImpl conv(long in, long out, long k, long stride) {
        Conv2dImpl c = Layers.conv(in, out, k, stride, k / 2, false);
        kaimingFanOut(c.weight());
        return c;
    }

    private static final class BasicBlock extends Block {
        private final Conv2dImpl conv1;
        private final BatchNorm2dImpl bn1;
        private final Conv2dImpl conv2;
        private final BatchNorm2dImpl bn2;
        private final Downsample downsample;

        BasicBlock(long in, long planes, long stride) {
            conv1 = register_module("conv1", conv(in, planes, 3, stride));
            bn1 = register_module("bn1", Layers.batchNorm(planes));
            conv2 = register_module("conv2", conv(planes, planes, 3, 1));
            bn2 = register_module("bn2", Layers.batchNorm(planes));
            downsample = (stride != 1 || in != planes) ? register_module("downsample", new Downsample(in, planes, stride)) : null;
        }

        @Override
        public Tensor forward(Tensor x) {
            Tensor h = torch.relu(bn1.forward(conv1.forward(x)));
            h = bn2.forward(conv2.forward(h));
            Tensor identity = downsample == null ? x : downsample.forward(x);
            return torch.relu(h.add(identity));
        }
    }

    private static final class Bottleneck extends Block {
        private final Conv2dImpl conv1;
        private final BatchNorm2dImpl bn1;
        private final Conv2dImpl conv2;
        private final BatchNorm2dImpl bn2;
        private final Conv2dImpl conv3;
        private final BatchNorm2dImpl bn3;
        private final Downsample downsample;

        Bottleneck(long in, long planes, long stride) {
            long out = planes * 4;
            conv1 = register_module("conv1", conv(in, planes, 1, 1));
            bn1 = register_module("bn1", Layers.batchNorm(planes));
            conv2 = register_module("conv2", conv(planes, planes, 3, stride));
            bn2 = register_module("bn2", Layers.batchNorm(planes));
            conv3 = register_module("conv3", conv(planes, out, 1, 1));
            bn3 = register_module("bn3", Layers.batchNorm(out));
            downsample = (stride != 1 || in != out) ? register_module("downsample", new Downsample(in, out, stride)) : null;
        }

        @Override
        public Tensor forward(Tensor x) {
            Tensor h = torch.relu(bn1.forward(conv1.forward(x)));
            h = torch.relu(bn2.forward(conv2.forward(h)));
            h = bn3.forward(conv3.forward(h));
            Tensor identity = downsample == null ? x : downsample.forward(x);
            return torch.relu(h.add(identity));
        }
    }
}
