package sluice.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.settings.Settings;
import org.opensearch.node.MockNode;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * A real single-node OpenSearch for tests: the engine's MockNode with the Netty HTTP
 * transport, Painless and common analysis as classpath plugins.
 *
 * <p>Arguments: home directory, HTTP port, transport port, write queue size (-1: default).
 * Prints {@code READY <http port>} once the cluster is green enough to index, and stops when
 * its standard input closes (so it never outlives the test that started it).
 */
public final class EmbeddedOpenSearch {
    private EmbeddedOpenSearch() {}

    public static void main(String[] args) throws Exception {
        Path home = Path.of(args[0]);
        String httpPort = args[1];
        String transportPort = args[2];
        int writeQueue = args.length > 3 ? Integer.parseInt(args[3]) : -1;
        Files.createDirectories(home.resolve("data"));
        Settings.Builder s = Settings.builder()
            .put("cluster.name", "sluice-test")
            .put("node.name", "node-1")
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("network.host", "127.0.0.1")
            .put("http.port", httpPort)
            .put("transport.port", transportPort)
            .put("http.type", "netty4")
            .put("transport.type", "netty4")
            .put("discovery.type", "single-node")
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("action.auto_create_index", true);
        if (writeQueue >= 0) {
            s.put("thread_pool.write.size", 1).put("thread_pool.write.queue_size", writeQueue);
        }
        Node node = new MockNode(
            s.build(),
            List.of(Netty4Plugin.class, PainlessPlugin.class, CommonAnalysisPlugin.class)
        );
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
            } catch (Exception e) {
                // Stopping anyway.
            }
        }));
        node.start();
        System.out.println("READY " + httpPort);
        System.out.flush();
        while (System.in.read() >= 0) {
            // Wait for the parent to close our stdin.
        }
        node.close();
        System.exit(0);
    }
}
