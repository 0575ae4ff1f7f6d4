package org.dreamteacher.torch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32C;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TensorFileTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void init() {
        TorchRuntime.init();
    }

    private static Map<String, Tensor> sample() {
        torch.manual_seed(1);
        Map<String, Tensor> m = new LinkedHashMap<>();
        Tensor x = torch.randn(2, 3, 5);
        m.put("f32", x);
        m.put("f64", x.to(ScalarType.Double));
        m.put("f16", x.to(ScalarType.Half));
        m.put("bf16", x.to(ScalarType.BFloat16));
        m.put("i64", torch.arange(new Scalar(7)));
        m.put("i32", torch.arange(new Scalar(4)).to(ScalarType.Int));
        m.put("u8", torch.arange(new Scalar(9)).to(ScalarType.Byte));
        m.put("bool", x.gt(new Scalar(0)));
        m.put("empty", torch.zeros(0, 4));
        m.put("scalar", torch.scalar_tensor(new Scalar(2.5)));
        m.put("strided", x.transpose(0, 2)); // not contiguous: written in its logical order
        return m;
    }

    @Test
    void roundTripOfEveryDtypeAndTheMetadata() throws IOException {
        Path f = dir.resolve("a.dtt");
        ObjectNode meta = new ObjectMapper().createObjectNode().put("hello", "world");
        Map<String, Tensor> in = sample();
        TensorFile.write(f, meta, in);
        TensorFile.Contents out = TensorFile.read(f);
        assertEquals("world", out.meta().get("hello").asText());
        assertEquals(in.keySet(), out.tensors().keySet());
        for (String k : in.keySet()) {
            Tensor a = in.get(k), b = out.tensors().get(k);
            assertEquals(a.scalar_type().intern(), b.scalar_type().intern(), k);
            assertTrue(Arrays.equals(a.sizes().vec().get(), b.sizes().vec().get()), k);
            assertTrue(a.equal(b), k);
        }
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count(), "no temporary file is left behind");
        }
    }

    @Test
    void everyFlippedByteOrCutIsDetected() throws IOException {
        Path f = dir.resolve("b.dtt");
        TensorFile.write(f, null, sample());
        byte[] good = Files.readAllBytes(f);
        for (int i = 0; i < good.length; i += 7) {
            byte[] bad = good.clone();
            bad[i] ^= 0x10;
            Files.write(f, bad);
            TensorFileException e = assertThrows(TensorFileException.class, () -> TensorFile.read(f), "flip at " + i);
            assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
        }
        for (int len : new int[] {0, 3, 23, 28, good.length / 2, good.length - 1}) {
            Files.write(f, Arrays.copyOf(good, len));
            assertThrows(TensorFileException.class, () -> TensorFile.read(f), "cut at " + len);
        }
        Files.write(f, good);
        assertEquals(sample().size(), TensorFile.read(f).tensors().size());
        assertThrows(TensorFileException.class, () -> TensorFile.read(dir.resolve("missing.dtt")));
    }

    /** A header with a valid checksum that claims more bytes than the file holds is refused before any allocation. */
    @Test
    void forgedHeadersWithValidChecksumsAreRefused() throws IOException {
        String[] headers = {
            "{\"tensors\":[{\"name\":\"x\",\"dtype\":\"float32\",\"shape\":[1000000000,1000],\"offset\":0,\"bytes\":4000000000000}]}",
            "{\"tensors\":[{\"name\":\"x\",\"dtype\":\"float32\",\"shape\":[2],\"offset\":4,\"bytes\":8}]}",
            "{\"tensors\":[{\"name\":\"x\",\"dtype\":\"float32\",\"shape\":[3],\"offset\":0,\"bytes\":8}]}",
            "{\"tensors\":[{\"name\":\"x\",\"dtype\":\"float32\",\"shape\":[-2],\"offset\":0,\"bytes\":8}]}",
            "{\"tensors\":[{\"name\":\"x\",\"dtype\":\"float32\",\"shape\":[4611686018427387904,4],\"offset\":0,\"bytes\":0}]}",
            "{\"tensors\":[{\"name\":\"x\",\"dtype\":\"complex\",\"shape\":[2],\"offset\":0,\"bytes\":8}]}",
            "{\"tensors\":[{\"name\":\"x\",\"dtype\":\"float32\",\"shape\":[1],\"offset\":0,\"bytes\":4},"
                    + "{\"name\":\"x\",\"dtype\":\"float32\",\"shape\":[1],\"offset\":4,\"bytes\":4}]}",
            "not json",
            "{}",
        };
        for (String h : headers) {
            Path f = dir.resolve("forged.dtt");
            Files.write(f, forged(h, new byte[8]));
            TensorFileException e = assertThrows(TensorFileException.class, () -> TensorFile.read(f), h);
            assertFalse(e.getMessage().contains("checksum"), "the checksum is valid, the header is not: " + e.getMessage());
        }
        Path ok = dir.resolve("ok.dtt");
        Files.write(ok, forged("{\"tensors\":[{\"name\":\"x\",\"dtype\":\"float32\",\"shape\":[2],\"offset\":0,\"bytes\":8}]}", new byte[8]));
        assertEquals(2, TensorFile.read(ok).tensors().get("x").numel());
    }

    private static byte[] forged(String header, byte[] payload) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(24 + h.length + payload.length + 4).order(ByteOrder.LITTLE_ENDIAN);
        b.put("DTTENSOR".getBytes(StandardCharsets.US_ASCII)).putInt(TensorFile.FORMAT_VERSION).putInt(0).putLong(h.length);
        b.put(h).put(payload);
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, b.position());
        b.putInt((int) crc.getValue());
        return b.array();
    }

    @Test
    void badTensorsAreRefusedOnWrite() {
        Path f = dir.resolve("c.dtt");
        assertThrows(IllegalArgumentException.class, () -> TensorFile.write(f, null, Map.of("u", new Tensor())));
        assertThrows(IllegalArgumentException.class,
                () -> TensorFile.write(f, null, Map.of("c", torch.randn(2).to(ScalarType.ComplexFloat))));
        assertFalse(Files.exists(f));
    }
}
