package io.usagemeter.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The one Markdown table {@link BenchSuite} prints: figures, their references and ratios, and what each phase cost. */
final class SuiteTable {

    /** One figure; {@code reference}/{@code ratio}/{@code target}/{@code cost} may be empty. */
    record Row(String figure, String value, String unit, String reference, String ratio, String target,
               String cpuPerMillion, String peakRss) {
    }

    private final List<Row> rows = new ArrayList<>();
    private final List<String> notes = new ArrayList<>();

    void add(Row row) {
        rows.add(row);
    }

    void absent(String figure, String why) {
        rows.add(new Row(figure, why, "", "", "", "", "", ""));
    }

    void note(String note) {
        notes.add(note);
    }

    String markdown(String heading, String machine) {
        StringBuilder md = new StringBuilder();
        md.append("## ").append(heading).append("\n\n").append(machine).append("\n\n");
        md.append("| Figure | Value | Unit | Reference | Ratio | Target | CPU-s / M events | JVM peak RSS |\n");
        md.append("|---|---:|---|---|---:|---|---:|---:|\n");
        for (Row r : rows) {
            md.append("| ").append(String.join(" | ", r.figure(), r.value(), r.unit(), r.reference(), r.ratio(),
                    r.target(), r.cpuPerMillion(), r.peakRss())).append(" |\n");
        }
        if (!notes.isEmpty()) {
            md.append('\n');
            for (String n : notes) {
                md.append("- ").append(n).append('\n');
            }
        }
        return md.toString();
    }

    static String number(double v) {
        if (Double.isNaN(v) || v < 0) {
            return "n/a";
        }
        return v >= 100 ? String.format(Locale.ROOT, "%,.0f", v) : String.format(Locale.ROOT, "%.2f", v);
    }

    static String ratio(double value, double reference) {
        if (!(reference > 0) || value < 0 || Double.isNaN(value)) {
            return "n/a";
        }
        double r = value / reference;
        return r >= 10 ? String.format(Locale.ROOT, "%.0f×", r) : String.format(Locale.ROOT, "%.2f×", r);
    }

    static String met(boolean met) {
        return met ? "met" : "**missed**";
    }
}
