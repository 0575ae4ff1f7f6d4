package org.dreamteacher.torch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void init() {
        TorchRuntime.init();
    }

    /** One tensor of every dtype, plus an empty, a 0-d and a non-contiguous one, in an order that mixes item sizes. */
    private static Map<String, Tensor> sample() {
        torch.manual_seed(3);
        Map<String, Tensor> m = new LinkedHashMap<>();
        Tensor x = torch.randn(2, 3, 5);
        m.put("u8", torch.arange(new Scalar(9)).to(ScalarType.Byte));
        m.put("f32", x);
        m.put("i8", torch.arange(new Scalar(-4), new Scalar(3)).to(ScalarType.Char));
        m.put("f64", x.to(ScalarType.Double));
        m.put("f16", x.to(ScalarType.Half));
        m.put("bf16", x.to(ScalarType.BFloat16));
        m.put("i64", torch.arange(new Scalar(7)));
        m.put("i32", torch.arange(new Scalar(5)).to(ScalarType.Int));
        m.put("i16", torch.arange(new Scalar(3)).to(ScalarType.Short));
        m.put("bool", x.gt(new Scalar(0)));
        m.put("empty", torch.zeros(0, 4));
        m.put("scalar", torch.scalar_tensor(new Scalar(2.5)));
        m.put("strided", x.transpose(0, 2)); // not contiguous: written in its logical order
        m.put("layer1.0.bn1.num_batches_tracked", torch.scalar_tensor(new Scalar(12)).to(ScalarType.Long));
        return m;
    }

    @Test
    void roundTripOfEveryDtypeKeepsTheDtype() throws IOException {
        Path f = dir.resolve("a.safetensors");
        Map<String, Tensor> in = sample();
        SafeTensors.write(f, Map.of("format", "pt", "note", "ünïcode"), in);
        SafeTensors.Contents out = SafeTensors.read(f);
        assertEquals(Map.of("format", "pt", "note", "ünïcode"), out.metadata());
        assertEquals(List.copyOf(in.keySet()), List.copyOf(out.tensors().keySet()), "header order is the map's order");
        for (String k : in.keySet()) {
            Tensor a = in.get(k), b = out.tensors().get(k);
            assertEquals(a.scalar_type().intern(), b.scalar_type().intern(), k);
            assertArrayEquals(a.sizes().vec().get(), b.sizes().vec().get(), k);
            assertTrue(a.equal(b), k);
        }
        assertEquals(SafeTensors.DType.F16, SafeTensors.DType.of(out.tensors().get("f16")));
        assertEquals(SafeTensors.DType.I8, SafeTensors.DType.of(out.tensors().get("i8")));
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count(), "no temporary file is left behind");
        }
    }

    /** The bytes follow the format: header length, space-padded JSON, each tensor aligned to its item size. */
    @Test
    void layoutFollowsTheFormat() throws IOException {
        Path f = dir.resolve("layout.safetensors");
        Map<String, Tensor> in = sample();
        SafeTensors.write(f, Map.of("format", "pt"), in);
        byte[] bytes = Files.readAllBytes(f);
        long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, n % 8, "header padded to a multiple of 8");
        String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
        assertEquals('{', header.charAt(0));
        assertEquals(header.strip().length(), header.stripTrailing().length());
        JsonNode json = new ObjectMapper().readTree(header);
        assertEquals("pt", json.get("__metadata__").get("format").asText());
        JsonNode f32 = json.get("f32");
        assertEquals("F32", f32.get("dtype").asText());
        assertEquals("[2,3,5]", f32.get("shape").toString());
        long begin = f32.get("data_offsets").get(0).asLong();
        // the first float of x, read straight from the bytes
        float first = ByteBuffer.wrap(bytes, (int) (8 + n + begin), 4).order(ByteOrder.LITTLE_ENDIAN).getFloat();
        assertEquals(in.get("f32").contiguous().data_ptr_float().get(0), first);
        long total = 0;
        for (Iterator<Map.Entry<String, JsonNode>> it = json.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals("__metadata__")) continue;
            long b = e.getValue().get("data_offsets").get(0).asLong(), end = e.getValue().get("data_offsets").get(1).asLong();
            int item = SafeTensors.DType.valueOf(e.getValue().get("dtype").asText()).size();
            assertEquals(0, b % item, e.getKey() + " is aligned to its item size");
            total += end - b;
        }
        assertEquals(bytes.length - 8 - n, total, "the tensors tile the data section");
    }

    /** A file laid out by hand as the format's reference implementation writes it. */
    @Test
    void readsAHandMadeFile() throws IOException {
        ByteBuffer data = ByteBuffer.allocate(8 + 8 + 2).order(ByteOrder.LITTLE_ENDIAN);
        data.putLong(-3L).putFloat(1.5f).putFloat(-2f).put((byte) 1).put((byte) 0);
        Path f = dir.resolve("hand.safetensors");
        Files.write(f, file("{\"__metadata__\":{\"format\":\"pt\"},\"b\":{\"dtype\":\"BOOL\",\"shape\":[2],\"data_offsets\":[16,18]},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[8,16]},\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]}}",
                data.array()));
        SafeTensors.Contents c = SafeTensors.read(f);
        assertEquals(List.of("b", "w", "n"), List.copyOf(c.tensors().keySet()));
        assertEquals(-3L, c.tensors().get("n").item_long());
        assertEquals(0, c.tensors().get("n").dim());
        assertEquals(-2f, c.tensors().get("w").select(1, 1).item_float());
        assertArrayEquals(new long[] {1, 2}, c.tensors().get("w").sizes().vec().get());
        assertTrue(c.tensors().get("b").select(0, 0).item_bool());
        assertFalse(c.tensors().get("b").select(0, 1).item_bool());
        assertEquals("pt", c.metadata().get("format"));
    }

    @Test
    void forgedHeadersAreRefusedNamingFileAndTensor() throws IOException {
        String ok = "\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";
        // {header, data size, words the message must contain}
        Object[][] cases = {
            {"{\"x\":{\"dtype\":\"F32\",\"shape\":[1000000000,1000],\"data_offsets\":[0,4000000000000]}}", 8, "'x'", "outside"},
            {"{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "'x'", "needs 12 bytes"},
            {"{\"x\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "'x'", "shape"},
            {"{\"x\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8, "'x'", "shape"},
            {"{\"x\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,0]}}", 8, "'x'", "overflows"},
            {"{\"x\":{\"dtype\":\"C128\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "'x'", "unknown dtype"},
            {"{\"x\":{\"dtype\":\"F8_E4M3\",\"shape\":[8],\"data_offsets\":[0,8]}}", 8, "'x'", "not supported"},
            {"{\"x\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "'x'", "no dtype"},
            {"{\"x\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "'x'", "no shape"},
            {"{\"x\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "'x'", "data_offsets"},
            {"{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "'x'", "data_offsets"},
            {"{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"extra\":1}}", 8, "'x'", "unknown field"},
            {"{\"x\":[1,2]}", 8, "'x'", "not a JSON object"},
            {"{" + ok + "," + ok + "}", 8, "Duplicate field 'x'"},
            {"{" + ok + ",\"y\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "'x' and 'y' overlap"},
            {"{" + ok + ",\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}", 16, "bytes 8..11", "'y'"},
            {"{" + ok + "}", 12, "cover 8 bytes of the 12-byte data section", "'x'"},
            {"{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "bytes 0..3"},
            {"{\"__metadata__\":{\"a\":1}," + ok + "}", 8, "__metadata__", "'a'"},
            {"{\"__metadata__\":[]," + ok + "}", 8, "__metadata__"},
            {"{" + ok + "} trailing", 8, "unreadable header"},
            {"{\"\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "empty name"},
            {"[1,2]", 0, "not start with '{'"},
            {"not json", 0, "not start with '{'"},
            {"{", 0, "unreadable header"},
        };
        for (Object[] c : cases) {
            Path f = dir.resolve("forged.safetensors");
            Files.write(f, file((String) c[0], new byte[(Integer) c[1]]));
            TensorFileException e = assertThrows(TensorFileException.class, () -> SafeTensors.read(f), (String) c[0]);
            assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
            for (int i = 2; i < c.length; i++) assertTrue(e.getMessage().contains((String) c[i]), c[0] + " -> " + e.getMessage());
        }
        Path good = dir.resolve("good.safetensors");
        Files.write(good, file("{" + ok + "}", new byte[8]));
        assertEquals(2, SafeTensors.read(good).tensors().get("x").numel());
    }

    @Test
    void badLengthsInvalidUtf8AndBadBooleansAreRefused() throws IOException {
        Path f = dir.resolve("bad.safetensors");
        Files.write(f, new byte[5]);
        assertTrue(assertThrows(TensorFileException.class, () -> SafeTensors.read(f)).getMessage().contains("truncated"));

        byte[] huge = file("{}", new byte[0]);
        ByteBuffer.wrap(huge).order(ByteOrder.LITTLE_ENDIAN).putLong(0, -1L); // 2^64 - 1 as an unsigned length
        Files.write(f, huge);
        assertTrue(assertThrows(TensorFileException.class, () -> SafeTensors.read(f)).getMessage().contains("18446744073709551615"));

        byte[] big = new byte[(int) SafeTensors.MAX_HEADER_BYTES + 16];
        ByteBuffer.wrap(big).order(ByteOrder.LITTLE_ENDIAN).putLong(0, SafeTensors.MAX_HEADER_BYTES + 1);
        Files.write(f, big);
        assertTrue(assertThrows(TensorFileException.class, () -> SafeTensors.read(f)).getMessage().contains("larger than"));

        byte[] latin1 = file("{\"__metadata__\":{\"k\":\"caf\u00e9\"}}", new byte[0]);
        byte[] header = "{\"__metadata__\":{\"k\":\"caf".getBytes(StandardCharsets.UTF_8);
        latin1[8 + header.length] = (byte) 0xE9; // a lone Latin-1 byte where UTF-8 needs two
        latin1[8 + header.length + 1] = '"';
        latin1[8 + header.length + 2] = '}';
        latin1[8 + header.length + 3] = '}';
        latin1[8 + header.length + 4] = ' ';
        Files.write(f, latin1);
        assertTrue(assertThrows(TensorFileException.class, () -> SafeTensors.read(f)).getMessage().contains("UTF-8"));

        Files.write(f, file("{\"b\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[0,3]}}", new byte[] {0, 1, 7}));
        TensorFileException e = assertThrows(TensorFileException.class, () -> SafeTensors.read(f));
        assertTrue(e.getMessage().contains("'b'") && e.getMessage().contains("is 7"), e.getMessage());
    }

    @Test
    void everyCutIsRefusedAndEveryFlipIsEitherReadOrRefused() throws IOException {
        Path f = dir.resolve("cut.safetensors");
        SafeTensors.write(f, Map.of("format", "pt"), sample());
        byte[] good = Files.readAllBytes(f);
        for (int len = 0; len < good.length; len += Math.max(1, len / 5)) {
            Files.write(f, Arrays.copyOf(good, len));
            TensorFileException e = assertThrows(TensorFileException.class, () -> SafeTensors.read(f), "cut at " + len);
            assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
        }
        long n = ByteBuffer.wrap(good, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        Random random = new Random(11);
        int refused = 0;
        for (int i = 0; i < 400; i++) {
            byte[] bad = good.clone();
            int at = random.nextInt((int) n + 8); // the length and the header: the data has no checksum in this format
            bad[at] ^= (byte) (1 << random.nextInt(8));
            Files.write(f, bad);
            try (PointerScope scope = new PointerScope()) {
                SafeTensors.Contents c = SafeTensors.read(f);
                long bytes = 0;
                for (Tensor t : c.tensors().values()) bytes += t.nbytes();
                assertTrue(bytes <= good.length, "a flip at " + at + " made the reader allocate more than the file");
            } catch (TensorFileException e) {
                refused++;
                assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
            } catch (Exception | Error e) {
                fail("a flip at byte " + at + " gave " + e);
            }
        }
        assertTrue(refused > 200, "most header flips are detected, " + refused + " of 400 were");
    }

    @Test
    void headerCheckRunsBeforeTheTensorsAreRead() throws IOException {
        Path f = dir.resolve("check.safetensors");
        SafeTensors.write(f, Map.of("k", "v"), sample());
        List<SafeTensors.Entry> seen = new ArrayList<>();
        IOException e = assertThrows(IOException.class, () -> SafeTensors.read(f, (meta, entries) -> {
            assertEquals("v", meta.get("k"));
            seen.addAll(entries);
            throw new TensorFileException(f, "refused by the caller");
        }));
        assertTrue(e.getMessage().contains("refused by the caller"));
        assertEquals(sample().size(), seen.size());
        SafeTensors.Entry f16 = seen.stream().filter(x -> x.name().equals("f16")).findFirst().orElseThrow();
        assertEquals(SafeTensors.DType.F16, f16.dtype());
        assertArrayEquals(new long[] {2, 3, 5}, f16.shape());
        assertEquals(60, f16.bytes());
    }

    @Test
    void badTensorsAreRefusedOnWrite() {
        Path f = dir.resolve("w.safetensors");
        assertThrows(IllegalArgumentException.class, () -> SafeTensors.write(f, null, Map.of("u", new Tensor())));
        assertThrows(IllegalArgumentException.class, () -> SafeTensors.write(f, null, Map.of("c", torch.randn(2).to(ScalarType.ComplexFloat))));
        assertThrows(IllegalArgumentException.class, () -> SafeTensors.write(f, null, Map.of("__metadata__", torch.randn(2))));
        assertThrows(IllegalArgumentException.class, () -> SafeTensors.write(f, null, Map.of("", torch.randn(2))));
        assertFalse(Files.exists(f));
    }

    /** A file of this header and data section, the header padded with spaces to a multiple of 8. */
    static byte[] file(String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        int padded = (h.length + 7) / 8 * 8;
        ByteBuffer b = ByteBuffer.allocate(8 + padded + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(padded).put(h);
        for (int i = h.length; i < padded; i++) b.put((byte) ' ');
        b.put(data);
        return b.array();
    }
}
