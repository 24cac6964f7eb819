// yaml-reference reads YAML documents as the Kubernetes tooling does — go-yaml v2's
// Unmarshal into interface{}, then the conversion sigs.k8s.io/yaml's YAMLToJSON makes
// (keys to strings, then encoding/json) — for tests/all/yaml_reference.rs, which compares
// policyrun's reader (src/model/yaml.rs) with it. Test support only, never part of
// policyrun. Input: documents on standard input, each ended by a NUL byte. Output: one
// JSON line per document, {"json": VALUE} or {"error": TEXT}.
//
// Built against Debian's golang-gopkg-yaml.v2-dev (go-yaml 2.4.0), without modules:
//   GO111MODULE=off GOPATH=/usr/share/gocode go build -o DIR/yaml-reference .
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	yaml "gopkg.in/yaml.v2"
)

// jsonable turns go-yaml's values into what encoding/json can write, with every key a
// string, as sigs.k8s.io/yaml does.
func jsonable(value interface{}) (interface{}, error) {
	switch v := value.(type) {
	case map[interface{}]interface{}:
		out := make(map[string]interface{}, len(v))
		for key, item := range v {
			var name string
			switch k := key.(type) {
			case string:
				name = k
			case int:
				name = strconv.Itoa(k)
			case int64:
				name = strconv.FormatInt(k, 10)
			case uint64:
				name = strconv.FormatUint(k, 10)
			case float64:
				name = strconv.FormatFloat(k, 'g', -1, 32)
				switch name {
				case "+Inf":
					name = ".inf"
				case "-Inf":
					name = "-.inf"
				case "NaN":
					name = ".nan"
				}
			case bool:
				name = strconv.FormatBool(k)
			default:
				return nil, fmt.Errorf("unsupported map key of type %T: %#v", key, key)
			}
			converted, err := jsonable(item)
			if err != nil {
				return nil, err
			}
			out[name] = converted
		}
		return out, nil
	case []interface{}:
		out := make([]interface{}, len(v))
		for i, item := range v {
			converted, err := jsonable(item)
			if err != nil {
				return nil, err
			}
			out[i] = converted
		}
		return out, nil
	default:
		return value, nil
	}
}

func read(document string) map[string]interface{} {
	var value interface{}
	if err := yaml.Unmarshal([]byte(document), &value); err != nil {
		return map[string]interface{}{"error": err.Error()}
	}
	converted, err := jsonable(value)
	if err != nil {
		return map[string]interface{}{"error": err.Error()}
	}
	text, err := json.Marshal(converted)
	if err != nil {
		return map[string]interface{}{"error": err.Error()}
	}
	return map[string]interface{}{"json": json.RawMessage(text)}
}

func main() {
	input, err := io.ReadAll(bufio.NewReader(os.Stdin))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	encoder := json.NewEncoder(out)
	documents := strings.Split(string(input), "\x00")
	for _, document := range documents[:len(documents)-1] {
		if err := encoder.Encode(read(document)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
}
