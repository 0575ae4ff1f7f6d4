/**
 * Data-parallel training between processes: the c10d (Gloo) rendezvous, bucketed gradient all-reduces that
 * overlap with the backward pass, and a launcher of local worker processes.
 *
 * <p>Module {@code dreamteacher-pipeline}. May use: the JDK, libtorch, {@code org.dreamteacher.torch} and
 * {@code org.dreamteacher.data}.
 */
package org.dreamteacher.parallel;
