package org.dreamteacher.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class MetricsLogTest {
    /** Short runs log every step, long ones every 20 steps; in between about 20 records per run. */
    @Test
    void intervalGivesShortRunsACurveAndCapsLongOnes() {
        assertEquals(1, MetricsLog.interval(1));
        assertEquals(1, MetricsLog.interval(39));
        assertEquals(2, MetricsLog.interval(40));
        assertEquals(10, MetricsLog.interval(200));
        assertEquals(20, MetricsLog.interval(400));
        assertEquals(20, MetricsLog.interval(20_000));
    }
}
