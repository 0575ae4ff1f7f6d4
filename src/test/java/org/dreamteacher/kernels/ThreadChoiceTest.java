package org.dreamteacher.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The default thread choice: --threads, else OMP_NUM_THREADS, else every available processor. */
class ThreadChoiceTest {
    @Test
    void allAvailableProcessorsByDefault() {
        ThreadChoice c = ThreadChoice.choose(2, null, null);
        assertEquals(2, c.threads());
        assertEquals("all 2 available processors; --threads or OMP_NUM_THREADS to change", c.reason());
        assertEquals(1, ThreadChoice.choose(1, null, "").threads());
        assertEquals("all 1 available processor; --threads or OMP_NUM_THREADS to change", ThreadChoice.choose(1, null, " ").reason());
        assertEquals(1, ThreadChoice.choose(0, null, null).threads(), "never fewer than one thread");
        assertEquals(64, ThreadChoice.choose(64, null, null).threads());
    }

    @Test
    void ompNumThreadsWhenSet() {
        assertEquals(new ThreadChoice(1, "OMP_NUM_THREADS=1"), ThreadChoice.choose(8, null, "1"));
        assertEquals(new ThreadChoice(16, "OMP_NUM_THREADS=16"), ThreadChoice.choose(2, null, "16"), "honoured even above the processors");
        assertEquals(new ThreadChoice(4, "OMP_NUM_THREADS=4,2"), ThreadChoice.choose(8, null, "4,2"), "nested list: the outer level");
        assertEquals(3, ThreadChoice.choose(8, null, " 3 ").threads());
    }

    @Test
    void invalidOmpNumThreadsIsIgnoredAndSaidSo() {
        for (String bad : new String[] {"0", "-2", "abc", "2.5", ",4", "99999999999"}) {
            ThreadChoice c = ThreadChoice.choose(6, null, bad);
            assertEquals(6, c.threads(), bad);
            assertTrue(c.reason().startsWith("OMP_NUM_THREADS='" + bad + "' ignored; all 6 available processors"), c.reason());
        }
    }

    @Test
    void optionWins() {
        assertEquals(new ThreadChoice(3, "--threads 3"), ThreadChoice.choose(2, 3, "1"));
        assertEquals(new ThreadChoice(1, "--threads 1"), ThreadChoice.choose(8, 1, null));
        assertThrows(IllegalArgumentException.class, () -> ThreadChoice.choose(2, 0, null));
    }
}
