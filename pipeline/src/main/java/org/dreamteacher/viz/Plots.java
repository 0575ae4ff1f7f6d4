package org.dreamteacher.viz;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.AffineTransform;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.MathContext;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Line and bar charts drawn with Java2D, so that training runs and evaluations can leave loss curves and
 * accuracy-versus-label-fraction plots next to their numbers without a plotting library or Python.
 *
 * <p>Data conventions: a line series is an array of points {@code {x, y}} or {@code {x, y, yError}} (error
 * bars, e.g. the std over seeds), drawn in the given order; non-finite points are skipped (a diverged loss
 * leaves a gap, not a broken picture). A bar series has one row per category, {@code {mean}} or
 * {@code {mean, std}}. Series are coloured in map order (use a LinkedHashMap).
 */
public final class Plots {
    private static final int WIDTH = 900, HEIGHT = 560;
    private static final int LEFT = 90, RIGHT = 30, TOP = 50, BOTTOM = 70;
    private static final Color[] COLOURS = {new Color(0x1F77B4), new Color(0xFF7F0E), new Color(0x2CA02C), new Color(0xD62728),
            new Color(0x9467BD), new Color(0x8C564B), new Color(0xE377C2), new Color(0x7F7F7F), new Color(0xBCBD22), new Color(0x17BECF)};

    private Plots() {}

    /** A line chart with linear axes written as a PNG. */
    public static void lineChart(Path png, String title, String xLabel, String yLabel, Map<String, double[][]> series) throws IOException {
        lineChart(png, title, xLabel, yLabel, series, false);
    }

    /** A line chart; with {@code logX} the x axis is logarithmic (label fractions 0.01, 0.1, 1), and needs x > 0. */
    public static void lineChart(Path png, String title, String xLabel, String yLabel, Map<String, double[][]> series, boolean logX)
            throws IOException {
        Pictures.save(png, lineChartImage(title, xLabel, yLabel, series, logX));
    }

    /** The picture of {@link #lineChart(Path, String, String, String, Map, boolean)}. */
    public static BufferedImage lineChartImage(String title, String xLabel, String yLabel, Map<String, double[][]> series, boolean logX) {
        if (series.isEmpty()) throw new IllegalArgumentException("no series to plot");
        double xMin = Double.POSITIVE_INFINITY, xMax = Double.NEGATIVE_INFINITY, yMin = Double.POSITIVE_INFINITY, yMax = Double.NEGATIVE_INFINITY;
        for (Map.Entry<String, double[][]> e : series.entrySet()) {
            for (double[] pt : e.getValue()) {
                if (pt.length < 2 || pt.length > 3)
                    throw new IllegalArgumentException("series '" + e.getKey() + "': points are {x, y} or {x, y, yError}");
                if (!usable(pt, logX)) continue;
                double err = pt.length == 3 && Double.isFinite(pt[2]) ? Math.abs(pt[2]) : 0;
                xMin = Math.min(xMin, pt[0]);
                xMax = Math.max(xMax, pt[0]);
                yMin = Math.min(yMin, pt[1] - err);
                yMax = Math.max(yMax, pt[1] + err);
            }
        }
        if (xMin > xMax) { // nothing finite to draw
            xMin = logX ? 1 : 0;
            xMax = logX ? 10 : 1;
            yMin = 0;
            yMax = 1;
        }
        Axis x = logX ? Axis.log(xMin, xMax) : Axis.linear(xMin, xMax, false);
        Axis y = Axis.linear(yMin, yMax, false);
        Chart chart = new Chart(title, xLabel, yLabel, x, y);
        Graphics2D g = chart.g;
        int s = 0;
        List<String> names = new ArrayList<>(series.keySet());
        for (String name : names) {
            double[][] pts = series.get(name);
            Color colour = COLOURS[s++ % COLOURS.length];
            g.setColor(colour);
            g.setStroke(new BasicStroke(2f, BasicStroke.CAP_ROUND, BasicStroke.JOIN_ROUND));
            Path2D.Double path = new Path2D.Double();
            boolean open = false;
            int finite = 0;
            for (double[] pt : pts) {
                if (!usable(pt, logX)) {
                    open = false;
                    continue;
                }
                finite++;
                double px = chart.px(pt[0]), py = chart.py(pt[1]);
                if (open) path.lineTo(px, py);
                else path.moveTo(px, py);
                open = true;
            }
            g.draw(path);
            boolean markers = finite <= 60;
            g.setStroke(new BasicStroke(1.5f));
            for (double[] pt : pts) {
                if (!usable(pt, logX)) continue;
                int px = (int) Math.round(chart.px(pt[0])), py = (int) Math.round(chart.py(pt[1]));
                if (pt.length == 3 && Double.isFinite(pt[2]) && pt[2] != 0) {
                    int top = (int) Math.round(chart.py(pt[1] + Math.abs(pt[2]))), bottom = (int) Math.round(chart.py(pt[1] - Math.abs(pt[2])));
                    g.drawLine(px, top, px, bottom);
                    g.drawLine(px - 4, top, px + 4, top);
                    g.drawLine(px - 4, bottom, px + 4, bottom);
                }
                if (markers) g.fillOval(px - 3, py - 3, 7, 7);
            }
        }
        chart.legend(names);
        return chart.finish();
    }

    /**
     * A grouped bar chart written as a PNG: one group per category (e.g. "1%", "10%", "100%"), one bar per
     * series (e.g. "DreamTeacher", "random init"), rows {@code {mean}} or {@code {mean, std}}.
     */
    public static void barChart(Path png, String title, String xLabel, String yLabel, List<String> categories,
            Map<String, double[][]> series) throws IOException {
        Pictures.save(png, barChartImage(title, xLabel, yLabel, categories, series));
    }

    /** The picture of {@link #barChart(Path, String, String, String, List, Map)}. */
    public static BufferedImage barChartImage(String title, String xLabel, String yLabel, List<String> categories,
            Map<String, double[][]> series) {
        if (series.isEmpty() || categories.isEmpty()) throw new IllegalArgumentException("no bars to plot");
        double yMin = 0, yMax = 0;
        for (Map.Entry<String, double[][]> e : series.entrySet()) {
            if (e.getValue().length != categories.size())
                throw new IllegalArgumentException("series '" + e.getKey() + "' has " + e.getValue().length + " rows for " + categories.size() + " categories");
            for (double[] row : e.getValue()) {
                if (row.length < 1 || row.length > 2) throw new IllegalArgumentException("series '" + e.getKey() + "': rows are {mean} or {mean, std}");
                if (!Double.isFinite(row[0])) continue;
                double err = row.length == 2 && Double.isFinite(row[1]) ? Math.abs(row[1]) : 0;
                yMin = Math.min(yMin, row[0] - err);
                yMax = Math.max(yMax, row[0] + err);
            }
        }
        if (yMin == yMax) yMax = 1;
        Axis x = Axis.categories(categories);
        Axis y = Axis.linear(yMin, yMax, true);
        Chart chart = new Chart(title, xLabel, yLabel, x, y);
        Graphics2D g = chart.g;
        int nSeries = series.size(), nCat = categories.size();
        double groupWidth = (double) chart.plotW / nCat;
        double barWidth = groupWidth * 0.8 / nSeries;
        int s = 0;
        List<String> names = new ArrayList<>(series.keySet());
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        FontMetrics fm = g.getFontMetrics();
        for (String name : names) {
            Color colour = COLOURS[s % COLOURS.length];
            double[][] rows = series.get(name);
            for (int k = 0; k < nCat; k++) {
                double[] row = rows[k];
                if (!Double.isFinite(row[0])) continue;
                double left = LEFT + k * groupWidth + groupWidth * 0.1 + s * barWidth;
                double zero = chart.py(0), top = chart.py(row[0]);
                g.setColor(colour);
                g.fillRect((int) Math.round(left), (int) Math.round(Math.min(zero, top)), Math.max(1, (int) Math.round(barWidth) - 1),
                        (int) Math.round(Math.abs(zero - top)));
                int cx = (int) Math.round(left + barWidth / 2);
                g.setColor(Color.BLACK);
                g.setStroke(new BasicStroke(1.3f));
                if (row.length == 2 && Double.isFinite(row[1]) && row[1] != 0) {
                    int hi = (int) Math.round(chart.py(row[0] + Math.abs(row[1]))), lo = (int) Math.round(chart.py(row[0] - Math.abs(row[1])));
                    g.drawLine(cx, hi, cx, lo);
                    g.drawLine(cx - 4, hi, cx + 4, hi);
                    g.drawLine(cx - 4, lo, cx + 4, lo);
                }
                if (nCat * nSeries <= 40) {
                    String text = format(row[0], 4);
                    int ty = (int) Math.round(chart.py(row[0] + (row.length == 2 && Double.isFinite(row[1]) ? Math.abs(row[1]) : 0))) - 4;
                    g.drawString(text, cx - fm.stringWidth(text) / 2, Math.max(TOP + fm.getAscent(), ty));
                }
            }
            s++;
        }
        chart.legend(names);
        return chart.finish();
    }

    private static boolean usable(double[] pt, boolean logX) {
        return Double.isFinite(pt[0]) && Double.isFinite(pt[1]) && (!logX || pt[0] > 0);
    }

    /** A number with up to {@code digits} significant digits and no trailing zeros. */
    static String format(double v, int digits) {
        if (v == 0 || !Double.isFinite(v)) return v == 0 ? "0" : String.valueOf(v);
        String s = new BigDecimal(v).round(new MathContext(digits)).stripTrailingZeros().toPlainString();
        return s.length() > 12 ? String.format("%." + (digits - 1) + "e", v) : s;
    }

    /** Ticks and the mapping of one axis to [0, 1]. */
    private static final class Axis {
        final double lo, hi;
        final boolean log;
        final double[] ticks;
        final String[] labels;

        private Axis(double lo, double hi, boolean log, double[] ticks, String[] labels) {
            this.lo = lo;
            this.hi = hi;
            this.log = log;
            this.ticks = ticks;
            this.labels = labels;
        }

        double fraction(double v) {
            return log ? (Math.log10(v) - lo) / (hi - lo) : (v - lo) / (hi - lo);
        }

        /**
         * [min, max] with a small margin (none below a {@code fromZero} axis' 0, more headroom above for the
         * legend), ticks at round multiples of a nice step (Heckbert's "nice numbers") inside it.
         */
        static Axis linear(double min, double max, boolean fromZero) {
            if (min == max) {
                double d = Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 1;
                min -= d;
                max += d;
            }
            double span = max - min;
            double lo = fromZero && min >= 0 ? min : min - span * 0.05;
            double hi = max + span * (fromZero ? 0.18 : 0.05);
            double step = nice((hi - lo) / 6, true);
            double first = Math.ceil(lo / step - 1e-9) * step;
            int n = (int) Math.floor((hi - first) / step + 1e-9) + 1;
            double[] ticks = new double[n];
            String[] labels = new String[n];
            int decimals = (int) Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
            for (int i = 0; i < n; i++) {
                ticks[i] = first + i * step;
                if (Math.abs(ticks[i]) < step * 1e-9) ticks[i] = 0;
                labels[i] = Math.abs(step) >= 1e5 || step < 1e-4 ? String.format("%.2e", ticks[i]) : String.format("%." + decimals + "f", ticks[i]);
            }
            return new Axis(lo, hi, false, ticks, labels);
        }

        /** [min, max] (both > 0) with a small margin in log space, ticks at the powers of 10 inside it. */
        static Axis log(double min, double max) {
            double a = Math.log10(min), b = Math.log10(max);
            if (b - a < 1e-9) {
                a -= 0.5;
                b += 0.5;
            }
            double lo = a - (b - a) * 0.05, hi = b + (b - a) * 0.05;
            int first = (int) Math.ceil(lo - 1e-9), last = (int) Math.floor(hi + 1e-9);
            int n = Math.max(0, last - first + 1);
            double[] ticks = new double[n];
            String[] labels = new String[n];
            for (int i = 0; i < n; i++) {
                ticks[i] = Math.pow(10, first + i);
                labels[i] = format(ticks[i], 1);
            }
            return new Axis(lo, hi, true, ticks, labels);
        }

        /** Categories at the centres of equal slots. */
        static Axis categories(List<String> names) {
            int n = names.size();
            double[] ticks = new double[n];
            for (int i = 0; i < n; i++) ticks[i] = i + 0.5;
            return new Axis(0, n, false, ticks, names.toArray(new String[0]));
        }

        private static double nice(double x, boolean round) {
            double exp = Math.floor(Math.log10(x));
            double f = x / Math.pow(10, exp);
            double nf;
            if (round) nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
            else nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
            return nf * Math.pow(10, exp);
        }
    }

    /** The frame, grid, ticks, labels and title of a chart; series are drawn in between. */
    private static final class Chart {
        final BufferedImage image = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        final Graphics2D g = image.createGraphics();
        final Axis x, y;
        final int plotW = WIDTH - LEFT - RIGHT, plotH = HEIGHT - TOP - BOTTOM;

        Chart(String title, String xLabel, String yLabel, Axis x, Axis y) {
            this.x = x;
            this.y = y;
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, WIDTH, HEIGHT);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            FontMetrics fm = g.getFontMetrics();
            for (int i = 0; i < y.ticks.length; i++) {
                int py = (int) Math.round(py(y.ticks[i]));
                g.setColor(new Color(225, 225, 225));
                g.drawLine(LEFT, py, LEFT + plotW, py);
                g.setColor(Color.DARK_GRAY);
                g.drawLine(LEFT - 5, py, LEFT, py);
                g.drawString(y.labels[i], LEFT - 8 - fm.stringWidth(y.labels[i]), py + fm.getAscent() / 2 - 1);
            }
            for (int i = 0; i < x.ticks.length; i++) {
                int px = (int) Math.round(px(x.ticks[i]));
                g.setColor(new Color(225, 225, 225));
                g.drawLine(px, TOP, px, TOP + plotH);
                g.setColor(Color.DARK_GRAY);
                g.drawLine(px, TOP + plotH, px, TOP + plotH + 5);
                g.drawString(x.labels[i], px - fm.stringWidth(x.labels[i]) / 2, TOP + plotH + 8 + fm.getAscent());
            }
            g.setColor(Color.DARK_GRAY);
            g.drawRect(LEFT, TOP, plotW, plotH);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 14));
            fm = g.getFontMetrics();
            if (xLabel != null) g.drawString(xLabel, LEFT + (plotW - fm.stringWidth(xLabel)) / 2, HEIGHT - 18);
            if (yLabel != null) {
                AffineTransform old = g.getTransform();
                g.rotate(-Math.PI / 2);
                g.drawString(yLabel, -(TOP + (plotH + fm.stringWidth(yLabel)) / 2), 22);
                g.setTransform(old);
            }
            if (title != null) {
                // a long title gets a smaller font (down to 10 pt) rather than losing its ends at the edges
                int size = 16;
                do {
                    g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, size));
                    fm = g.getFontMetrics();
                } while (fm.stringWidth(title) > WIDTH - 20 && --size > 10);
                g.setColor(Color.BLACK);
                g.drawString(title, Math.max(10, (WIDTH - fm.stringWidth(title)) / 2), 30);
            }
            g.setClip(LEFT, TOP, plotW + 1, plotH + 1);
        }

        double px(double v) {
            return LEFT + x.fraction(v) * plotW;
        }

        double py(double v) {
            return TOP + plotH - y.fraction(v) * plotH;
        }

        /** The legend, in the plot corner where it hides the fewest drawn pixels. */
        void legend(List<String> names) {
            g.setClip(null);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            FontMetrics fm = g.getFontMetrics();
            int w = 0;
            for (String n : names) w = Math.max(w, fm.stringWidth(n));
            int boxW = w + 36, boxH = names.size() * 18 + 8;
            int[][] corners = {{LEFT + plotW - boxW - 8, TOP + 8}, {LEFT + 8, TOP + 8}, {LEFT + plotW - boxW - 8, TOP + plotH - boxH - 8},
                {LEFT + 8, TOP + plotH - boxH - 8}};
            int x0 = corners[0][0], y0 = corners[0][1];
            long best = Long.MAX_VALUE;
            for (int[] c : corners) {
                long inked = 0;
                for (int yy = Math.max(0, c[1]); yy < Math.min(HEIGHT, c[1] + boxH); yy++)
                    for (int xx = Math.max(0, c[0]); xx < Math.min(WIDTH, c[0] + boxW); xx++) {
                        int p = image.getRGB(xx, yy);
                        int r = p >> 16 & 0xFF, gr = p >> 8 & 0xFF, b = p & 0xFF;
                        int hi = Math.max(r, Math.max(gr, b)), lo = Math.min(r, Math.min(gr, b));
                        if (hi - lo > 30 || lo < 180) inked++; // colour or dark: data, not background or grid
                    }
                if (inked < best) {
                    best = inked;
                    x0 = c[0];
                    y0 = c[1];
                }
            }
            g.setColor(new Color(255, 255, 255, 220));
            g.fillRect(x0, y0, boxW, boxH);
            g.setColor(Color.GRAY);
            g.drawRect(x0, y0, boxW, boxH);
            for (int i = 0; i < names.size(); i++) {
                int yy = y0 + 4 + i * 18 + 9;
                g.setColor(COLOURS[i % COLOURS.length]);
                g.fillRect(x0 + 6, yy - 5, 18, 10);
                g.setColor(Color.BLACK);
                g.drawString(names.get(i), x0 + 30, yy + fm.getAscent() / 2 - 1);
            }
        }

        BufferedImage finish() {
            g.dispose();
            return image;
        }
    }
}
