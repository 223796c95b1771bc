// Prints Java's Float.toString / Double.toString for edge values and random bit patterns, one
// "f|d HEXBITS TEXT" line each. Run with JDK 17 (what Debezium's oracle runs on) to regenerate
// schemas/golden/java-floats.txt:
//   java schemas/golden/java-floats/JavaFloats.java 4000 > schemas/golden/java-floats.txt
import java.util.Random;

public class JavaFloats {
    static void f(float v) {
        System.out.println("f " + Integer.toHexString(Float.floatToRawIntBits(v)) + " " + Float.toString(v));
    }

    static void d(double v) {
        System.out.println("d " + Long.toHexString(Double.doubleToRawLongBits(v)) + " " + Double.toString(v));
    }

    public static void main(String[] args) {
        int n = Integer.parseInt(args[0]);
        System.out.println("# Java " + System.getProperty("java.version") + ": Float.toString / Double.toString");
        float[] fe = {Float.MIN_VALUE, Float.MIN_NORMAL, Float.MAX_VALUE, 0.1f, 0.2f, 0.3f, 1e-3f, 9.999999e-4f,
            1e7f, 9999999f, 1.0e-38f, 3.4e38f, 16777216f, 16777217f, 33554432f, 1.23456789e8f, 2147483647f,
            9.223372E18f, 1e10f, 123.456f, -1.5f, 0.5f, 1.17549435E-38f, 7.0e-45f};
        for (float v : fe) { f(v); f(-v); f(Math.nextUp(v)); f(Math.nextDown(v)); }
        for (int e = -149; e <= 127; e++) { f((float) Math.pow(2, e)); }
        for (int e = -45; e <= 38; e++) { f(Float.parseFloat("1e" + e)); f(Float.parseFloat("9.999999e" + e)); }
        double[] de = {Double.MIN_VALUE, Double.MIN_NORMAL, Double.MAX_VALUE, 0.1, 0.2, 0.3, 1e-3, 1e7, 9999999.999,
            2e23, 1e23, 2.82879384806159E17, 1.9400994884341945E25, 5.0E-324, 9007199254740993.0, 4.35E-5,
            123456789.0, 1.0E22, 9.223372036854776E18, -2.5, 3.14159};
        for (double v : de) { d(v); d(-v); d(Math.nextUp(v)); d(Math.nextDown(v)); }
        for (int e = -1074; e <= 1023; e += 3) { d(Math.pow(2, e)); }
        for (int e = -323; e <= 308; e += 2) { d(Double.parseDouble("1e" + e)); d(Double.parseDouble("9.999999999999999e" + e)); }
        for (long i = 1; i < (1L << 62); i = i * 3 + 1) { d((double) i); f((float) i); }
        Random r = new Random(20261206L);
        for (int i = 0; i < n; i++) {
            f(Float.intBitsToFloat(r.nextInt() & 0x7fffffff | (i & 1) << 31));
            long bits = r.nextLong();
            if (((bits >>> 52) & 0x7ff) == 0x7ff) continue;
            d(Double.longBitsToDouble(bits));
            // Values as columns hold them: short decimals.
            double v = Math.round(r.nextDouble() * 1e6) / Math.pow(10, r.nextInt(8));
            d(v); f((float) v);
        }
    }
}
