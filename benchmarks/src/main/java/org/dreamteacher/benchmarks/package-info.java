/**
 * JMH benchmarks: each fused kernel (raw addresses, arrays, buffers) against libtorch's composite ops and a
 * memory-bandwidth roofline, the JNI overhead, and the models' training steps.
 *
 * <p>Module {@code dreamteacher-benchmarks} (not published). May use: everything.
 */
package org.dreamteacher.benchmarks;
