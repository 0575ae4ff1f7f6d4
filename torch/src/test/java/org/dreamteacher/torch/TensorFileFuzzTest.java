package org.dreamteacher.torch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.zip.CRC32C;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Random and adversarial headers with valid checksums: every file is either refused with a
 * {@link TensorFileException} or read into tensors whose bytes add up to at most the file's payload (the bound
 * on what {@link TensorFile#read} allocates for tensors), never any other exception.
 */
class TensorFileFuzzTest {
    @TempDir
    Path dir;

    private static final String[] DTYPES = {"float32", "float64", "float16", "bfloat16", "int64", "int32", "uint8", "bool", "complex", ""};
    private static final int[] SIZES = {4, 8, 2, 2, 8, 4, 1, 1, 8, 1};

    @BeforeAll
    static void init() {
        TorchRuntime.init();
    }

    /** The attack: 300 entries naming the same bytes made a 26 KB file allocate 300 times its payload. */
    @Test
    void entriesThatShareBytesAreRefused() throws IOException {
        int payload = 4096;
        StringBuilder h = new StringBuilder("{\"tensors\":[");
        for (int i = 0; i < 300; i++)
            h.append(i == 0 ? "" : ",").append("{\"name\":\"t").append(i).append("\",\"dtype\":\"float32\",\"shape\":[1024],\"offset\":0,\"bytes\":4096}");
        h.append("]}");
        Path f = dir.resolve("alias.dtt");
        Files.write(f, forged(h.toString(), new byte[payload]));
        TensorFileException e = assertThrows(TensorFileException.class, () -> TensorFile.read(f));
        assertTrue(e.getMessage().contains("overlap"), e.getMessage());

        // a partial overlap: [0, 8) and [4, 12)
        Files.write(f, forged("{\"tensors\":[{\"name\":\"a\",\"dtype\":\"float32\",\"shape\":[2],\"offset\":0,\"bytes\":8},"
                + "{\"name\":\"b\",\"dtype\":\"float32\",\"shape\":[2],\"offset\":4,\"bytes\":8}]}", new byte[12]));
        assertTrue(assertThrows(TensorFileException.class, () -> TensorFile.read(f)).getMessage().contains("'a' and 'b' overlap"));
        // adjacent entries and empty tensors sharing an offset are fine
        Files.write(f, forged("{\"tensors\":[{\"name\":\"a\",\"dtype\":\"float32\",\"shape\":[2],\"offset\":0,\"bytes\":8},"
                + "{\"name\":\"e\",\"dtype\":\"float32\",\"shape\":[0],\"offset\":4,\"bytes\":0},"
                + "{\"name\":\"b\",\"dtype\":\"float32\",\"shape\":[1],\"offset\":8,\"bytes\":4}]}", new byte[12]));
        assertEquals(3, TensorFile.read(f).tensors().size());
    }

    /** A header length beyond 2 GiB with a valid checksum used to fail with IllegalArgumentException. */
    @Test
    void aHeaderOverTwoGibIsAnIOException() throws IOException {
        long headerLength = (3L << 30);
        Path f = dir.resolve("huge-header.dtt");
        ByteBuffer pre = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
        pre.put("DTTENSOR".getBytes(StandardCharsets.US_ASCII)).putInt(TensorFile.FORMAT_VERSION).putInt(0).putLong(headerLength);
        CRC32C crc = new CRC32C();
        crc.update(pre.array());
        byte[] zeros = new byte[1 << 20];
        for (long done = 0; done < headerLength; done += zeros.length) crc.update(zeros);
        ByteBuffer trailer = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) crc.getValue());
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) { // sparse: no disk used for the zeros
            raf.write(pre.array());
            raf.setLength(24 + headerLength + 4);
            raf.seek(24 + headerLength);
            raf.write(trailer.array());
        }
        try {
            TensorFileException e = assertThrows(TensorFileException.class, () -> TensorFile.read(f));
            assertTrue(e.getMessage().contains("header"), e.getMessage());
        } finally {
            Files.delete(f);
        }
    }

    /** The check a caller passes sees the validated entries and refuses before the tensors are read. */
    @Test
    void aHeaderCheckRefusesUnexpectedNames() throws IOException {
        Path f = dir.resolve("names.dtt");
        Files.write(f, forged("{\"meta\":{\"k\":1},\"tensors\":[{\"name\":\"weights\",\"dtype\":\"float32\",\"shape\":[2],\"offset\":0,\"bytes\":8},"
                + "{\"name\":\"surprise\",\"dtype\":\"uint8\",\"shape\":[4],\"offset\":8,\"bytes\":4}]}", new byte[12]));
        List<String> seen = new ArrayList<>();
        TensorFileException e = assertThrows(TensorFileException.class, () -> TensorFile.read(f, (meta, entries) -> {
            assertEquals(1, meta.path("k").asInt());
            for (TensorFile.Entry x : entries) {
                seen.add(x.name());
                if (!x.name().equals("weights")) throw new TensorFileException(f, "unexpected tensor '" + x.name() + "'");
            }
        }));
        assertEquals(List.of("weights", "surprise"), seen);
        assertTrue(e.getMessage().contains("unexpected tensor 'surprise'"));
    }

    @Test
    void randomAndAdversarialHeadersAreRefusedOrStayWithinThePayload() throws IOException {
        long seed = 20261205L;
        int trials = 3000, refused = 0, read = 0;
        Random rnd = new Random(seed);
        Path f = dir.resolve("fuzz.dtt");
        for (int trial = 0; trial < trials; trial++) {
            int payload = rnd.nextInt(4) == 0 ? 0 : rnd.nextInt(2048);
            String header = trial % 3 == 2 ? mutate(validHeader(rnd, payload), rnd) : randomHeader(rnd, payload);
            Files.write(f, forged(header, new byte[payload]));
            try (PointerScope scope = new PointerScope()) {
                Map<String, Tensor> t = TensorFile.read(f).tensors();
                long total = 0;
                for (Tensor x : t.values()) total += x.nbytes();
                if (total > payload) fail("seed " + seed + " trial " + trial + ": " + total + " bytes from a " + payload + "-byte payload: " + header);
                read++;
            } catch (TensorFileException expected) {
                assertTrue(expected.getMessage().startsWith(f.toString()), expected.getMessage());
                assertFalse(expected.getMessage().contains("checksum"), expected.getMessage());
                refused++;
            } catch (IOException | RuntimeException | Error other) {
                fail("seed " + seed + " trial " + trial + ": " + other + " for header " + header, other);
            }
        }
        System.out.printf("TensorFile fuzz: seed %d, %d headers: %d refused, %d read within their payload%n", seed, trials, refused, read);
        assertTrue(refused > trials / 4 && read > trials / 20, "both outcomes exercised: refused " + refused + ", read " + read);
    }

    /** Entries with random names, dtypes, shapes and offsets, a third of them aimed at the same bytes. */
    private static String randomHeader(Random rnd, int payload) {
        StringBuilder h = new StringBuilder("{\"tensors\":[");
        int n = rnd.nextInt(rnd.nextInt(10) == 0 ? 400 : 6);
        long offset = 0;
        for (int i = 0; i < n; i++) {
            int d = rnd.nextInt(DTYPES.length);
            long count = switch (rnd.nextInt(5)) {
                case 0 -> 0;
                case 1 -> rnd.nextLong() >>> rnd.nextInt(64);
                default -> rnd.nextInt(64);
            };
            long bytes = rnd.nextInt(8) == 0 ? rnd.nextLong() : count * SIZES[d];
            long off = switch (rnd.nextInt(4)) {
                case 0 -> 0;
                case 1 -> rnd.nextInt(payload + 16) - 8;
                default -> offset;
            };
            offset = off + Math.max(0, bytes);
            String name = rnd.nextInt(20) == 0 ? "t0" : "t" + i;
            String shape = rnd.nextInt(10) == 0 ? "[" + count + ",-1]" : rnd.nextInt(10) == 0 ? "[1.5]" : "[" + count + "]";
            h.append(i == 0 ? "" : ",").append("{\"name\":\"").append(name).append("\",\"dtype\":\"").append(DTYPES[d])
                    .append("\",\"shape\":").append(shape).append(",\"offset\":").append(off).append(",\"bytes\":").append(bytes).append('}');
        }
        return h.append("]}").toString();
    }

    /** A header that reads: disjoint float32/uint8 entries inside the payload. */
    private static String validHeader(Random rnd, int payload) {
        StringBuilder h = new StringBuilder("{\"meta\":{\"a\":[1,2]},\"tensors\":[");
        int offset = 0, i = 0;
        while (offset < payload && i < 8) {
            int count = 1 + rnd.nextInt(Math.max(1, (payload - offset) / 4));
            if (offset + 4L * count > payload) break;
            h.append(i == 0 ? "" : ",").append("{\"name\":\"v").append(i++).append("\",\"dtype\":\"float32\",\"shape\":[").append(count)
                    .append("],\"offset\":").append(offset).append(",\"bytes\":").append(4 * count).append('}');
            offset += 4 * count;
        }
        return h.append("]}").toString();
    }

    /** A few random byte edits (digits, brackets, quotes, deletions) of a header. */
    private static String mutate(String header, Random rnd) {
        StringBuilder b = new StringBuilder(header);
        String alphabet = "0123456789-[]{}\",:.e9";
        for (int k = 1 + rnd.nextInt(3); k > 0 && b.length() > 0; k--) {
            int at = rnd.nextInt(b.length());
            switch (rnd.nextInt(3)) {
                case 0 -> b.setCharAt(at, alphabet.charAt(rnd.nextInt(alphabet.length())));
                case 1 -> b.deleteCharAt(at);
                default -> b.insert(at, alphabet.charAt(rnd.nextInt(alphabet.length())));
            }
        }
        return b.toString();
    }

    static byte[] forged(String header, byte[] payload) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(24 + h.length + payload.length + 4).order(ByteOrder.LITTLE_ENDIAN);
        b.put("DTTENSOR".getBytes(StandardCharsets.US_ASCII)).putInt(TensorFile.FORMAT_VERSION).putInt(0).putLong(h.length);
        b.put(h).put(payload);
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, b.position());
        b.putInt((int) crc.getValue());
        return b.array();
    }
}
