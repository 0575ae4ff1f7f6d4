package org.dreamteacher.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NpyWriterTest {
    @TempDir
    Path dir;

    @Test
    void float32MatrixHasNumpysExactLayout() throws IOException {
        float[] values = {0f, -0f, 1.5f, -2.25f, Float.MIN_VALUE, Float.MAX_VALUE, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY,
            1e-30f, 3.14159265f, -1f, 42f, 7e7f, 0.1f};
        Path file = dir.resolve("m.npy");
        NpyWriter.writeFloats(file, values, 3, 5);

        byte[] bytes = Files.readAllBytes(file);
        String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 5), }";
        // 10 bytes of prefix + the 59-byte dict + spaces + newline = 128: the values start at byte 128.
        String header = dict + " ".repeat(128 - 10 - dict.length() - 1) + "\n";
        assertEquals(118, header.length());
        assertArrayEquals(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 118, 0}, Arrays.copyOf(bytes, 10));
        assertEquals(header, new String(bytes, 10, header.length(), StandardCharsets.US_ASCII));
        assertEquals(128 + 4 * values.length, bytes.length);
        for (int i = 0; i < values.length; i++) {
            int at = 128 + 4 * i;
            int bits = (bytes[at] & 0xFF) | (bytes[at + 1] & 0xFF) << 8 | (bytes[at + 2] & 0xFF) << 16 | (bytes[at + 3] & 0xFF) << 24;
            assertEquals(Float.floatToRawIntBits(values[i]), bits, "value " + i + " little-endian, bit for bit");
        }

        NpyFiles.Npy npy = NpyFiles.read(file);
        assertEquals(1, npy.major());
        assertFalse(npy.fortranOrder());
        assertArrayEquals(new long[] {3, 5}, npy.shape());
        float[] back = npy.floats();
        for (int i = 0; i < values.length; i++) assertEquals(Float.floatToRawIntBits(values[i]), Float.floatToRawIntBits(back[i]));
        assertEquals(List.of(file), listing(), "no temporary file is left");
    }

    @Test
    void int64VectorHasNumpysExactLayout() throws IOException {
        long[] values = {0, 1, -1, Long.MAX_VALUE, Long.MIN_VALUE, 9, 0x0102030405060708L};
        Path file = dir.resolve("labels.npy");
        NpyWriter.writeLongs(file, values, values.length);

        byte[] bytes = Files.readAllBytes(file);
        String dict = "{'descr': '<i8', 'fortran_order': False, 'shape': (7,), }";
        assertEquals(dict + " ".repeat(128 - 10 - dict.length() - 1) + "\n", new String(bytes, 10, 118, StandardCharsets.US_ASCII));
        // Little-endian: the last value's lowest byte comes first.
        int last = 128 + 8 * 6;
        assertArrayEquals(new byte[] {8, 7, 6, 5, 4, 3, 2, 1}, Arrays.copyOfRange(bytes, last, last + 8));

        NpyFiles.Npy npy = NpyFiles.read(file);
        assertEquals("<i8", npy.descr());
        assertArrayEquals(new long[] {7}, npy.shape());
        assertArrayEquals(values, npy.longs());
    }

    /**
     * Shapes (1, ..., 1, D) of rank 1..30 with D of 1..4 digits make dicts of every length modulo 64: the padding
     * takes every value 0..63, headers span two or three 64-byte blocks, and each file parses with its values.
     */
    @Test
    void headersOfEveryLengthAlignTheData() throws IOException {
        TreeSet<Integer> paddings = new TreeSet<>(), blocks = new TreeSet<>();
        for (int rank = 1; rank <= 30; rank++) {
            for (int digits = 1; digits <= 4; digits++) {
                long[] shape = new long[rank];
                Arrays.fill(shape, 1);
                shape[rank - 1] = new long[] {3, 17, 123, 1234}[digits - 1];
                byte[] header = NpyWriter.header(NpyWriter.DType.FLOAT32, shape);
                assertEquals(0, header.length % NpyWriter.ALIGNMENT, "header of " + Arrays.toString(shape));
                String text = new String(header, 10, header.length - 10, StandardCharsets.US_ASCII);
                String dict = text.stripTrailing();
                int padding = text.length() - dict.length() - 1;
                assertTrue(padding >= 0 && padding < NpyWriter.ALIGNMENT, "padding " + padding + " is not the least that aligns");
                paddings.add(padding);
                blocks.add(header.length / NpyWriter.ALIGNMENT);

                int n = Math.toIntExact(shape[rank - 1]);
                float[] values = new float[n];
                for (int i = 0; i < n; i++) values[i] = i * 0.5f - rank;
                Path file = dir.resolve("r" + rank + "-d" + digits + ".npy");
                NpyWriter.writeFloats(file, values, shape);
                NpyFiles.Npy npy = NpyFiles.read(file);
                assertArrayEquals(shape, npy.shape());
                assertEquals(header.length, npy.dataOffset());
                assertArrayEquals(values, npy.floats());
            }
        }
        assertEquals(64, paddings.size(), "paddings seen: " + paddings);
        assertEquals(new TreeSet<>(List.of(2, 3)), blocks, "header blocks seen");
    }

    @Test
    void aHeaderBeyond64KiBUsesVersion2() throws IOException {
        long[] shape = new long[22_000];
        Arrays.fill(shape, 1);
        Path file = dir.resolve("v2.npy");
        NpyWriter.writeFloats(file, new float[] {2.5f}, shape);
        NpyFiles.Npy npy = NpyFiles.read(file);
        assertEquals(2, npy.major());
        assertTrue(npy.headerLength() > 0xFFFF, "header length " + npy.headerLength());
        assertEquals(0, npy.dataOffset() % 64);
        assertEquals(22_000, npy.shape().length);
        assertArrayEquals(new float[] {2.5f}, npy.floats());
        // Version 1.0 up to the last header that fits 16 bits.
        assertEquals(1, NpyWriter.header(NpyWriter.DType.FLOAT32, new long[] {1, 1})[6]);
    }

    @Test
    void streamingInUnevenPiecesCrossesTheBufferUnchanged() throws IOException {
        int rows = 1000, cols = 37; // 148 KB: more than two of the writer's 64 KiB buffers
        float[] all = new float[rows * cols];
        for (int i = 0; i < all.length; i++) all[i] = (float) Math.sin(i) * i;
        Path file = dir.resolve("big.npy");
        try (NpyWriter w = NpyWriter.open(file, NpyWriter.DType.FLOAT32, rows, cols)) {
            for (int from = 0; from < all.length; from += 777) w.writeFloats(all, from, Math.min(777, all.length - from));
            assertEquals(all.length, w.written());
            assertFalse(Files.exists(file), "nothing under the final name before the commit");
            assertEquals(file, w.commit());
        }
        NpyFiles.Npy npy = NpyFiles.read(file);
        assertArrayEquals(new long[] {rows, cols}, npy.shape());
        assertArrayEquals(all, npy.floats());
    }

    @Test
    void anIncompleteArrayLeavesNoFileAndKeepsTheOldOne() throws IOException {
        Path file = dir.resolve("x.npy");
        NpyWriter.writeLongs(file, new long[] {1, 2}, 2);
        byte[] before = Files.readAllBytes(file);

        try (NpyWriter w = NpyWriter.open(file, NpyWriter.DType.INT64, 3)) {
            w.writeLongs(new long[] {5, 6}, 0, 2);
            IllegalStateException e = assertThrows(IllegalStateException.class, w::commit);
            assertTrue(e.getMessage().contains("2 of 3 values"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> w.writeLongs(new long[] {1, 2}, 0, 2), "past the shape");
            assertThrows(IllegalArgumentException.class, () -> w.writeFloats(new float[] {1}, 0, 1), "wrong type");
        }
        assertArrayEquals(before, Files.readAllBytes(file), "the old file is untouched");
        assertEquals(List.of(file), listing(), "the temporary file is gone");

        // A complete array replaces it.
        NpyWriter.writeLongs(file, new long[] {7, 8, 9}, 3);
        assertArrayEquals(new long[] {7, 8, 9}, NpyFiles.read(file).longs());
        assertEquals(List.of(file), listing());
    }

    @Test
    void unwritableTargetsFailWithTheFileNamed() throws IOException {
        Path blocker = Files.writeString(dir.resolve("plain.txt"), "not a folder");
        Path under = blocker.resolve("f.npy");
        IOException e = assertThrows(IOException.class, () -> NpyWriter.open(under, NpyWriter.DType.FLOAT32, 1));
        assertTrue(e.getMessage().startsWith("cannot write " + under), e.getMessage());

        Path folder = Files.createDirectory(dir.resolve("out.npy"));
        e = assertThrows(IOException.class, () -> NpyWriter.writeFloats(folder, new float[] {1}, 1));
        assertTrue(e.getMessage().contains("is a folder"), e.getMessage());
        assertEquals(List.of(folder, blocker), listing(), "no temporary file is left");

        assertThrows(IllegalArgumentException.class, () -> NpyWriter.header(NpyWriter.DType.FLOAT32, 2, -1));
        assertThrows(IllegalArgumentException.class, () -> NpyWriter.open(dir.resolve("huge.npy"), NpyWriter.DType.INT64, 1L << 40, 1L << 30));
    }

    private List<Path> listing() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }
}
