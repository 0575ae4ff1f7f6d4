package org.dreamteacher.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.dreamteacher.diffusion.DiffusionConfig;
import org.dreamteacher.diffusion.GaussianDiffusion;
import org.dreamteacher.diffusion.Noise;
import org.dreamteacher.diffusion.UNetConfig;
import org.dreamteacher.kernels.ResidentMemory;
import org.junit.jupiter.api.Test;

/**
 * Windows of 1,000 training steps of a U-Net (DDPM loss) and a ResNet with its regressor keep the process's
 * resident memory flat ({@link ResidentMemory}), the models and optimisers living outside the per-step
 * {@code PointerScope}.
 */
class TrainingMemoryTest {
    private static final long ALLOWED_GROWTH_KB = 16 * 1024;

    @Test
    void thousandTrainingStepsKeepNativeMemoryFlat() throws Exception {
        torch.manual_seed(0);
        UNetConfig u = new UNetConfig(1, 1, 8, 4, List.of(1, 2), 1, List.of(4), 2, 0, true, 0.1, 0, 2, List.of(0));
        GaussianDiffusion diffusion = DiffusionConfig.of(u).build();
        ResNet resnet = (ResNet) ResNetConfig.small(18, 2, 1, 10).build();
        FeatureRegressor regressor = (FeatureRegressor) FeatureRegressorConfig.of(resnet.featureChannels(), new long[] {3, 5, 7, 9}, 8).build();
        AdamW unetOpt = new AdamW(diffusion.parameters(), new AdamWOptions(1e-3));
        TensorVector rp = resnet.parameters();
        TensorVector gp = regressor.parameters();
        for (long i = 0; i < gp.size(); i++) rp.push_back(gp.get(i));
        AdamW resnetOpt = new AdamW(rp, new AdamWOptions(1e-3));
        Noise noise = new Noise(1);
        Tensor x = noise.normal(2, 1, 8, 8).retainReference();
        Tensor y = torch.tensor(1L, 2L).retainReference();

        int[] step = {0};
        ResidentMemory.Window steps = () -> {
            for (int i = 0; i < 1_000; i++) trainStep(step[0]++, diffusion, unetOpt, resnet, regressor, resnetOpt, noise, x, y);
        };
        for (int i = 0; i < 100; i++) trainStep(step[0]++, diffusion, unetOpt, resnet, regressor, resnetOpt, noise, x, y);
        ResidentMemory.assertFlat("1,000 training steps", 3, ALLOWED_GROWTH_KB, steps); // after warm-up: pools, optimiser state, JIT
    }

    /** Even steps train the U-Net, odd ones the ResNet with the regressor. */
    private static void trainStep(int step, GaussianDiffusion diffusion, AdamW unetOpt, ResNet resnet,
            FeatureRegressor regressor, AdamW resnetOpt, Noise noise, Tensor x, Tensor y) {
        try (PointerScope scope = new PointerScope()) {
            Tensor loss;
            if (step % 2 == 0) {
                loss = diffusion.trainingLoss(x, noise);
                unetOpt.zero_grad();
                loss.backward();
                unetOpt.step();
            } else {
                List<FeatureMap> f = resnet.features(x);
                loss = torch.cross_entropy(resnet.classify(x), y);
                for (Tensor r : regressor.forward(Backbone.tensors(f))) loss = loss.add(r.pow(new org.bytedeco.pytorch.Scalar(2)).mean());
                resnetOpt.zero_grad();
                loss.backward();
                resnetOpt.step();
            }
            assertTrue(Float.isFinite(loss.item_float()));
        }
    }
}
