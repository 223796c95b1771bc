package sluice.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import com.carrotsearch.randomizedtesting.RandomizedRunner;
import com.carrotsearch.randomizedtesting.annotations.ThreadLeakScope;
import com.carrotsearch.randomizedtesting.annotations.TimeoutSuite;
import com.carrotsearch.randomizedtesting.annotations.Timeout;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.node.MockNode;
import org.elasticsearch.node.Node;
import org.elasticsearch.transport.netty4.Netty4Plugin;
import org.junit.Test;
import org.junit.runner.JUnitCore;
import org.junit.runner.Result;
import org.junit.runner.RunWith;

/**
 * A real single-node Elasticsearch for tests: the engine's MockNode with the Netty HTTP
 * transport as a classpath plugin.
 *
 * <p>Arguments: home directory, HTTP port, transport port. Prints {@code READY <http port>}
 * once the node started, and stops when its standard input closes (so it never outlives the
 * test that started it). The engine's test framework expects a randomized-testing context, so
 * the node runs inside one: a JUnit test run by {@link RandomizedRunner}, with no timeout and
 * no thread-leak checks.
 */
@RunWith(RandomizedRunner.class)
@ThreadLeakScope(ThreadLeakScope.Scope.NONE)
@TimeoutSuite(millis = Integer.MAX_VALUE)
public class EmbeddedElasticsearch {
    private static String[] args;

    public static void main(String[] a) {
        args = a;
        Result r = JUnitCore.runClasses(EmbeddedElasticsearch.class);
        r.getFailures().forEach(f -> System.err.println(f.getTrace()));
        System.exit(r.wasSuccessful() ? 0 : 1);
    }

    @Test
    @Timeout(millis = Integer.MAX_VALUE)
    public void serve() throws Exception {
        Path home = Path.of(args[0]);
        String httpPort = args[1];
        String transportPort = args[2];
        Files.createDirectories(home.resolve("data"));
        Settings s = Settings.builder()
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
            .put("action.auto_create_index", true)
            .build();
        Node node = new MockNode(s, List.of(Netty4Plugin.class));
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
    }
}
