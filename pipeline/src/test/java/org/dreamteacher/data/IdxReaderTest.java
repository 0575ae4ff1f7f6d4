package org.dreamteacher.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** IDX reading and writing, and the reader's refusal of every kind of broken or forged file. */
class IdxReaderTest {
    @TempDir
    Path dir;

    private static byte[] sample(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) b[i] = (byte) (i * 37 + 11);
        return b;
    }

    private static byte[] header(int type, int... dims) {
        ByteBuffer b = ByteBuffer.allocate(4 + 4 * dims.length);
        b.put((byte) 0).put((byte) 0).put((byte) type).put((byte) dims.length);
        for (int d : dims) b.putInt(d);
        return b.array();
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) out.writeBytes(p);
        return out.toByteArray();
    }

    private static byte[] gzip(byte[] raw) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(raw);
        }
        return out.toByteArray();
    }

    private Path file(String name, byte[] content) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, content);
        return p;
    }

    private static CorruptDataException corrupt(Path p, String fragment) {
        CorruptDataException e = assertThrows(CorruptDataException.class, () -> IdxReader.read(p));
        assertTrue(e.getMessage().contains(p.toString()), () -> "message should name the file: " + e.getMessage());
        assertTrue(e.getMessage().contains(fragment), () -> "message '" + e.getMessage() + "' should contain '" + fragment + "'");
        return e;
    }

    @Test
    void roundTripRawAndGzip() throws IOException {
        byte[] data = sample(5 * 7 * 3);
        for (boolean gz : new boolean[] {false, true}) {
            Path p = dir.resolve("a" + gz + ".idx");
            IdxWriter.writeUnsignedBytes(p, new int[] {5, 7, 3}, data, gz);
            byte[] head = Arrays.copyOf(Files.readAllBytes(p), 2);
            assertEquals(gz, head[0] == (byte) 0x1f && head[1] == (byte) 0x8b);
            IdxArray a = IdxReader.read(p);
            assertEquals(IdxArray.UNSIGNED_BYTE, a.type());
            assertArrayEquals(new int[] {5, 7, 3}, a.dims());
            assertArrayEquals(data, a.data());
            assertEquals(data[4] & 0xFF, a.get(4));
        }
        // Signed bytes and a 1-D array.
        Path p = dir.resolve("signed.idx");
        IdxWriter.write(p, new IdxArray(IdxArray.SIGNED_BYTE, new int[] {4}, new byte[] {-1, 0, 1, -128}), false);
        IdxArray s = IdxReader.read(p);
        assertEquals(-128, s.get(3));
        assertEquals(-1, s.get(0));
    }

    @Test
    void compressionIsDetectedByContentNotName() throws IOException {
        byte[] raw = concat(header(8, 2, 3), sample(6));
        assertArrayEquals(sample(6), IdxReader.read(file("looks-compressed.gz", raw)).data());
        assertArrayEquals(sample(6), IdxReader.read(file("looks-raw.idx", gzip(raw))).data());
        assertArrayEquals(sample(6), IdxReader.read(new ByteArrayInputStream(gzip(raw)), "stream").data());
        assertArrayEquals(sample(6), IdxReader.read(new ByteArrayInputStream(raw), "stream").data());
    }

    @Test
    void truncatedFilesAreRejected() throws IOException {
        byte[] full = concat(header(8, 10, 28, 28), sample(10 * 28 * 28));
        corrupt(file("short.idx", Arrays.copyOf(full, full.length - 1)), "truncated");
        corrupt(file("short.gz", gzip(Arrays.copyOf(full, full.length - 100))), "truncated");
        byte[] gz = gzip(full);
        corrupt(file("cut.gz", Arrays.copyOf(gz, gz.length / 2)), "truncated or corrupt gzip");
        corrupt(file("header.idx", Arrays.copyOf(full, 9)), "truncated header");
        corrupt(file("tiny.idx", new byte[] {0, 0}), "truncated");
        corrupt(file("empty.idx", new byte[0]), "truncated");
        byte[] badGzip = gzip(full);
        badGzip[badGzip.length / 2] ^= 0x55;
        badGzip[badGzip.length / 2 + 1] ^= 0x55;
        corrupt(file("flipped.gz", badGzip), "");
    }

    @Test
    void badMagicTypeAndDimensionsAreRejected() throws IOException {
        corrupt(file("magic.idx", concat(new byte[] {1, 0, 8, 1, 0, 0, 0, 1}, new byte[1])), "not an IDX file");
        corrupt(file("png.idx", new byte[] {(byte) 0x89, 'P', 'N', 'G', 13, 10, 26, 10}), "not an IDX file");
        corrupt(file("type.idx", concat(header(0x07, 1), new byte[1])), "unknown IDX element type");
        corrupt(file("float.idx", concat(header(0x0D, 1), new byte[4])), "not supported");
        corrupt(file("zero-dims.idx", new byte[] {0, 0, 8, 0}), "dimension count 0");
        corrupt(file("zero.idx", concat(header(8, 3, 0, 2), new byte[0])), "dimension 1 is 0");
        corrupt(file("negative.idx", concat(header(8, -5), new byte[0])), "dimension 0 is -5");
        corrupt(file("overflow.idx", concat(header(8, Integer.MAX_VALUE, Integer.MAX_VALUE, Integer.MAX_VALUE), new byte[8])), "overflow");
        corrupt(file("limit.idx", concat(header(8, 65536, 65536), new byte[8])), "more than the limit");
    }

    @Test
    void trailingBytesAreRejected() throws IOException {
        byte[] full = concat(header(8, 2, 2), sample(4));
        corrupt(file("trailing.idx", concat(full, new byte[] {1, 2, 3})), "3 trailing bytes");
        corrupt(file("trailing.gz", gzip(concat(full, new byte[] {9}))), "1 trailing bytes");
    }

    /** Headers claiming 2.1 GB of pixels (more than the test heap) or 2^31 images, in 100-byte files. */
    @Test
    void forgedHugeHeaderFailsFastWithoutAllocating() throws IOException {
        int images = (Integer.MAX_VALUE - 8) / 784; // the largest count under the array limit: 2.1 GB of pixels
        byte[] forged = concat(header(8, images, 28, 28), sample(84));
        assertEquals(100, forged.length);
        Path raw = file("forged.idx", forged);
        Path gz = file("forged.gz", gzip(forged));
        Path claims2to31 = file("forged31.gz", gzip(concat(header(8, Integer.MIN_VALUE, 28, 28), sample(84))));
        long before = Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory();
        assertTimeoutPreemptively(Duration.ofSeconds(5), () -> {
            corrupt(raw, "truncated");
            corrupt(gz, "truncated");
            corrupt(claims2to31, "dimension 0 is -2147483648");
        });
        long after = Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory();
        assertTrue(after - before < 64L << 20, "reading a forged header allocated " + (after - before) + " bytes");
        // Also through a stream of unknown length.
        assertThrows(CorruptDataException.class, () -> IdxReader.read(new ByteArrayInputStream(forged), "stream"));
    }

    @Test
    void missingFileIsADataException() {
        DataException e = assertThrows(DataException.class, () -> IdxReader.read(dir.resolve("nope.idx")));
        assertTrue(e.getMessage().contains("no such file"));
    }
}
