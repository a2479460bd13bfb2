import java.util.ArrayList;

public class Main {
    public static void main(String[] args) {
        // 1 GiB in 1 MiB blocks, each written so that it is really used.
        ArrayList<byte[]> blocks = new ArrayList<>();
        for (int i = 0; i < 1024; i++) {
            byte[] b = new byte[1 << 20];
            java.util.Arrays.fill(b, (byte) i);
            blocks.add(b);
        }
        System.out.println(blocks.size());
    }
}
