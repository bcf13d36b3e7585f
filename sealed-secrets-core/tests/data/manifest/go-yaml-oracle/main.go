// Writes go-yaml-cases.jsonl: for each case, the input value and what upstream's libraries print
// for it: `yaml` is sigs.k8s.io/yaml.JSONToYAML of Go's json.Marshal of the input (kubeseal's
// -o yaml body), `json` is json.MarshalIndent(input, "", "  ") (kubeseal's -o json body).
// Cases where upstream fails (control characters go-yaml refuses) are left out.
//
// Run from this folder: go run . > ../go-yaml-cases.jsonl
package main

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"strings"

	"sigs.k8s.io/yaml"
)

var specials = []string{
	"", " ", "  ", "true", "True", "TRUE", "tRUE", "false", "yes", "Yes", "no", "on", "off", "y",
	"Y", "n", "N", "null", "Null", "~", "123", "-12", "+12", "0x1F", "0o17", "0777", "08", "0b101",
	"1_000", "1e3", "1E3", "1.", ".5", "-.5", "1.5", "1e400", ".inf", "-.inf", "+.inf", ".nan",
	".NaN", "0x", "12abc", "1.2.3", "2024-01-02", "2024-1-2", "2023-02-29", "2024-01-02T10:00:00Z",
	"2024-01-02T10:00:00", "2001-12-14 21:59:43.10", "2001-12-14t21:59:43.10-05:00", "2024-13-01",
	"1:20", "190:20:30.15", "1:60", "-1:59", "a:1", "<<", "=", "-", "--", "---", "--- x", "...",
	"....", "?", "? x", "?x", ":", ": x", ":x", "a:", "a: b", "a:b", "a :b", "#", "# x", "a#b",
	"a #b", "a\t#b", "- a", "-a", "*", "*x", "&x", "!x", "!", "%x", "@x", "`x", "|x", ">x", "'x",
	"\"x", "x'", "it's", "'q'", "\"q\"", "{x}", "[x]", "x,y", "x, y", "{", "}", ",", "x]", "x}",
	"x?", "x?y", " lead", "trail ", " both ", "a  b", "a\tb", "\t", "tab\t", "a\nb", "a\nb\n",
	"a\n\n", "\n", "\n\n", "\na", " a\nb", "a \nb", "a\n b", "a\n\nb", "a\r\nb", "a\rb", "x\u2028y",
	"x\u2029", "x\u0085y", "a \u0085 \u0085b", "é", "é ü", "日本語", "😀", "hi 😀", "\u00a0",
	"a\u00a0b", "\ufeffx", "x\ufeff", "\x00", "a\x07b", "\x1b[0m", "\u00ad", "\ud7ff", "\ue000",
	"\ufffd", "<a href=\"x\">&amp;</a>", "back\\slash", "slash/", "a=b", "/path/to",
	"http://x.y:80/p?q=1#f", "user@host", "${VAR}", "{{ toJson .server1 }}", "0.1", "-0", "00",
	"0", "+", "+1", "1e", "e3", "_1",
}

var words = []string{"lorem", "ipsum", "dolor", "sit", "amet,", "consectetur", "adipiscing",
	"elit", "a", "bb", "x:", "#y", "é", "😀", "'", "\"", "\\", "-", "\t"}

func longText(r *rand.Rand) string {
	seps := []string{" ", " ", " ", "  ", "\n", " \n"}
	sep := seps[r.Intn(len(seps))]
	n := 5 + r.Intn(50)
	parts := make([]string, n)
	for i := range parts {
		parts[i] = words[r.Intn(len(words))]
	}
	text := strings.Join(parts, sep)
	if r.Intn(10) < 3 {
		text = []string{"- ", "'", "\"", " ", "a: ", "true "}[r.Intn(6)] + text
	}
	if r.Intn(10) < 2 {
		text += []string{" ", "\n", "\n\n", "\t"}[r.Intn(4)]
	}
	return text
}

func nest(r *rand.Rand, v interface{}, depth int) interface{} {
	for i := 0; i < depth; i++ {
		switch r.Intn(3) {
		case 0:
			v = map[string]interface{}{fmt.Sprintf("k%d", i): v}
		case 1:
			v = []interface{}{v}
		default:
			v = map[string]interface{}{"a": 1, "k": v, "z": []interface{}{v}}
		}
	}
	return v
}

func main() {
	r := rand.New(rand.NewSource(1))
	var cases []interface{}
	for _, s := range specials {
		cases = append(cases,
			map[string]interface{}{"k": s},
			map[string]interface{}{s: "v"},
			[]interface{}{s},
			map[string]interface{}{"outer": map[string]interface{}{"inner": []interface{}{s, map[string]interface{}{"x": s}}}})
	}
	for i := 0; i < 100; i++ {
		cases = append(cases, nest(r, map[string]interface{}{"key": longText(r)}, r.Intn(4)))
	}
	keys := []string{"a_b", "aB", "ab", "a-b", "a.b", "A", "Z", "_", "-", "1", "10", "9", "a10",
		"a9", "a010", "a01", "x19", "x100", "key9", "key10", "B", "é", "a", "v1.9", "v1.10", "v2"}
	keyMap := map[string]interface{}{}
	for _, k := range keys {
		keyMap[k] = k
	}
	cases = append(cases, keyMap,
		map[string]interface{}{strings.Repeat("x", 128): "v", strings.Repeat("y", 129): "v",
			strings.Repeat("z", 130) + " q": "v", "multi\nline": "v", "": "empty"},
		map[string]interface{}{"n": []interface{}{1, -2, 1.5, 100000, true, false, nil,
			[]interface{}{}, map[string]interface{}{}}})
	out := json.NewEncoder(os.Stdout)
	for _, c := range cases {
		marshaled, err := json.Marshal(c)
		if err != nil {
			panic(err)
		}
		y, err := yaml.JSONToYAML(marshaled)
		if err != nil {
			continue
		}
		indented, err := json.MarshalIndent(c, "", "  ")
		if err != nil {
			panic(err)
		}
		line := map[string]interface{}{"input": c, "yaml": string(y), "json": string(indented)}
		if err := out.Encode(line); err != nil {
			panic(err)
		}
	}
}
