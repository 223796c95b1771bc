// Derives, for every record of Debezium recordings with schemas (debezium.schemas-true.jsonl),
// the Avro schemas Confluent's converter (kafka-connect-avro-data, AvroData with its default
// config, as AvroConverter uses it) registers for the record's key and value Connect schemas.
// Prints one JSON object per distinct (topic, part, schema), in order of first appearance:
//   {"topic": "...", "part": "key"|"value", ["scrubbed": true,] "schema": <Avro schema JSON>}
// schemas/golden/avro-data/record.sh runs it for every case (it fetches the jars).
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.confluent.connect.avro.AvroData;
import io.confluent.connect.avro.AvroDataConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.json.JsonConverter;

public class AvroSchemas {
    public static void main(String[] args) throws Exception {
        ObjectMapper mapper = new ObjectMapper();
        JsonConverter json = new JsonConverter();
        Map<String, Object> cfg = new HashMap<>();
        cfg.put("converter.type", "value");
        cfg.put("schemas.enable", "true");
        json.configure(cfg);
        AvroData avro = new AvroData(new AvroDataConfig(new HashMap<String, Object>()));
        // Names Avro refuses (a column "Some Value") fail the default converter; with
        // scrub.invalid.names=true it replaces the bad characters. Such schemas are marked.
        Map<String, Object> scrubCfg = new HashMap<>();
        scrubCfg.put("scrub.invalid.names", "true");
        AvroData scrub = new AvroData(new AvroDataConfig(scrubCfg));
        LinkedHashSet<String> seen = new LinkedHashSet<>();
        for (String line : Files.readAllLines(Path.of(args[0]))) {
            if (line.isBlank()) continue;
            JsonNode rec = mapper.readTree(line);
            String topic = rec.get("topic").asText();
            for (String part : new String[] {"key", "value"}) {
                JsonNode env = rec.get(part);
                if (env == null || env.isNull() || env.get("schema") == null || env.get("schema").isNull()) continue;
                Schema connect = json.asConnectSchema(env.get("schema"));
                org.apache.avro.Schema a;
                boolean scrubbed = false;
                try {
                    a = avro.fromConnectSchema(connect);
                } catch (org.apache.avro.SchemaParseException e) {
                    a = scrub.fromConnectSchema(connect);
                    scrubbed = true;
                }
                ObjectNode out = mapper.createObjectNode();
                out.put("topic", topic);
                out.put("part", part);
                if (scrubbed) out.put("scrubbed", true);
                out.set("schema", mapper.readTree(a.toString()));
                String text = mapper.writeValueAsString(out);
                if (seen.add(text)) System.out.println(text);
            }
        }
    }
}
