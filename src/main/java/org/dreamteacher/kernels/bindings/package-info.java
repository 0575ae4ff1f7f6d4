/**
 * The JavaCPP binding of the C ABI ({@code dreamteacher.h}), one Java method per C function, no logic.
 *
 * <p>Module {@code dreamteacher-kernels}. May use: the JDK and JavaCPP.
 */
package org.dreamteacher.kernels.bindings;
