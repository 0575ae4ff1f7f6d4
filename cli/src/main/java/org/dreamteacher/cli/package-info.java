/**
 * The {@code dreamteacher} command line (picocli): one command per stage of the pipeline, and the demo.
 * Commands parse their options, call the pipeline and report; they are the only classes that print.
 *
 * <p>Module {@code dreamteacher-cli}. May use: everything above it.
 */
package org.dreamteacher.cli;
