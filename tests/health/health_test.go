// Package health checks deploy/argocd/health.lua the way Argo CD runs it (gopher-lua) and
// Flux's view of the same objects (kstatus), against SealedSecrets recorded from our controller
// on the tests/cluster harness (fixtures/, written by controller/tests/e2e_health.rs).
package health

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	luajson "layeh.com/gopher-json"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

const scriptPath = "../../deploy/argocd/health.lua"

// Argo CD's health codes (gitops-engine health.HealthStatusCode).
var argoCodes = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true,
	"Suspended": true, "Missing": true, "Unknown": true,
}

// argoHealth runs script as Argo CD's util/lua VM does for a health check: a fresh state
// with only the package, base and table libraries (no string, no io; Argo adds a reduced
// `os` we do not use), a time limit, the object as the global `obj`, and the returned
// table read back through JSON into {status, message}.
func argoHealth(script string, obj map[string]any) (string, string, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return "", "", err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		return "", "", err
	}
	ret := l.Get(-1)
	if ret.Type() != lua.LTTable {
		return "", "", fmt.Errorf("the script returned a %s, not a table", ret.Type())
	}
	text, err := luajson.Encode(ret)
	if err != nil {
		return "", "", err
	}
	var hs struct {
		Status  string `json:"status"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(text, &hs); err != nil {
		return "", "", err
	}
	if !argoCodes[hs.Status] {
		return "", "", fmt.Errorf("%q is not an Argo CD health status", hs.Status)
	}
	return hs.Status, hs.Message, nil
}

// toLua converts an unstructured object as Argo CD's decodeValue does: maps and slices become
// tables (slices 1-based), numbers LNumber, strings LString, booleans LBool, null LNil.
func toLua(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case map[string]any:
		t := l.NewTable()
		for k, item := range v {
			t.RawSetString(k, toLua(l, item))
		}
		return t
	case []any:
		t := l.NewTable()
		for i, item := range v {
			t.RawSetInt(i+1, toLua(l, item))
		}
		return t
	case string:
		return lua.LString(v)
	case bool:
		return lua.LBool(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case nil:
		return lua.LNil
	default:
		panic(fmt.Sprintf("unexpected %T in an object", value))
	}
}

func readScript(t *testing.T) string {
	t.Helper()
	text, err := os.ReadFile(scriptPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(text)
}

// readObject parses a JSON object with apimachinery's decoder (integers as int64), as a
// client of the API server sees it.
func readObject(t *testing.T, path string) map[string]any {
	t.Helper()
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := utiljson.Unmarshal(text, &obj); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return obj
}

type expected struct {
	argo        string
	argoMessage string
	kstatus     status.Status
}

// What each recorded state must give. The kstatus column is what Flux's kustomize-controller
// (wait/healthChecks without healthCheckExprs) concludes: our controller's failures carry
// Stalled=True (Failed); see docs/gitops-health.md for why a SealedSecret with no status yet, and
// upstream's failures (Synced only), are Current there.
var recorded = map[string]expected{
	"synced": {"Healthy", "Unsealed into its Secret", status.CurrentStatus},
	"wrong-namespace": {"Degraded",
		"WrongNamespace: no key could decrypt secret (value)", status.FailedStatus},
	"unknown-key": {"Degraded",
		"UnknownKeyOrCorruptData: no key could decrypt secret (value)", status.FailedStatus},
	"not-managed": {"Degraded",
		`failed update: Resource "not-managed" already exists and is not managed by SealedSecret`,
		status.FailedStatus},
	"generation-ahead": {"Progressing",
		"Waiting for the controller to unseal generation 2", status.InProgressStatus},
	"pending": {"Progressing",
		"Waiting for the controller to unseal the SealedSecret (no status yet)", status.CurrentStatus},
	// Recorded from upstream v0.36.6's controller: no reason, the message alone.
	"upstream-synced":      {"Healthy", "Unsealed into its Secret", status.CurrentStatus},
	"upstream-unknown-key": {"Degraded", "no key could decrypt secret (value)", status.CurrentStatus},
}

func TestRecordedFixtures(t *testing.T) {
	script := readScript(t)
	files, err := filepath.Glob("fixtures/*.json")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".json")
		want, ok := recorded[name]
		if !ok {
			t.Errorf("%s: no expectation for this fixture", file)
			continue
		}
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			obj := readObject(t, file)
			got, message, err := argoHealth(script, obj)
			if err != nil {
				t.Fatalf("argo: %v", err)
			}
			if got != want.argo || message != want.argoMessage {
				t.Errorf("argo: got %s %q, want %s %q", got, message, want.argo, want.argoMessage)
			}
			res, err := status.Compute(&unstructured.Unstructured{Object: obj})
			if err != nil {
				t.Fatalf("kstatus: %v", err)
			}
			if res.Status != want.kstatus {
				t.Errorf("kstatus: got %s (%s), want %s", res.Status, res.Message, want.kstatus)
			}
			t.Logf("argo %s %q; kstatus %s %q", got, message, res.Status, res.Message)
		})
	}
	for name := range recorded {
		if !seen[name] {
			t.Errorf("fixtures/%s.json is missing", name)
		}
	}
}

// Shapes the recorded run does not produce: upstream's status (no reason), a Synced
// condition in an unexpected state, other conditions next to ours, and the status fields
// missing one by one. The script must answer each with a valid code, never an error.
func TestHandMadeObjects(t *testing.T) {
	script := readScript(t)
	base := func(status string) map[string]any {
		var obj map[string]any
		text := `{"apiVersion":"bitnami.com/v1alpha1","kind":"SealedSecret",
			"metadata":{"name":"x","namespace":"y","generation":3}` + status + `}`
		if err := utiljson.Unmarshal([]byte(text), &obj); err != nil {
			t.Fatal(err)
		}
		return obj
	}
	cases := []struct {
		name, status, want, message string
	}{
		{"upstream failure without reason",
			`,"status":{"observedGeneration":3,"conditions":[{"type":"Synced","status":"False","message":"no key could decrypt secret (foo)"}]}`,
			"Degraded", "no key could decrypt secret (foo)"},
		{"failure without message",
			`,"status":{"observedGeneration":3,"conditions":[{"type":"Synced","status":"False"}]}`,
			"Degraded", "the controller could not unseal the SealedSecret"},
		{"unknown condition status",
			`,"status":{"observedGeneration":3,"conditions":[{"type":"Synced","status":"Unknown"}]}`,
			"Progressing", "Waiting for the controller to unseal the SealedSecret (Synced is Unknown)"},
		{"other conditions only",
			`,"status":{"observedGeneration":3,"conditions":[{"type":"Other","status":"False"}]}`,
			"Progressing", "Waiting for the controller to unseal the SealedSecret (no Synced condition)"},
		{"other condition before ours",
			`,"status":{"observedGeneration":3,"conditions":[{"type":"Other","status":"False"},{"type":"Synced","status":"True"}]}`,
			"Healthy", "Unsealed into its Secret"},
		{"status without observedGeneration",
			`,"status":{"conditions":[{"type":"Synced","status":"True"}]}`,
			"Progressing", "Waiting for the controller to unseal generation 3"},
		{"empty status", `,"status":{}`,
			"Progressing", "Waiting for the controller to unseal generation 3"},
		{"failure of an older generation",
			`,"status":{"observedGeneration":2,"conditions":[{"type":"Synced","status":"False","message":"old"}]}`,
			"Progressing", "Waiting for the controller to unseal generation 3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, message, err := argoHealth(script, base(c.status))
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want || message != c.message {
				t.Errorf("got %s %q, want %s %q", got, message, c.want, c.message)
			}
		})
	}
	// Being deleted, with and without finalizers.
	obj := base(`,"status":{"observedGeneration":3,"conditions":[{"type":"Synced","status":"True"}]}`)
	meta := obj["metadata"].(map[string]any)
	meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
	if got, message, err := argoHealth(script, obj); err != nil || got != "Progressing" || message != "Pending deletion" {
		t.Errorf("deleted: got %s %q, %v", got, message, err)
	}
	meta["finalizers"] = []any{"example.com/a", "example.com/b"}
	want := "Pending deletion; blocked by finalizers: example.com/a, example.com/b"
	if got, message, err := argoHealth(script, obj); err != nil || got != "Progressing" || message != want {
		t.Errorf("deleted with finalizers: got %s %q, %v", got, message, err)
	}
	// An object without metadata.generation (never the case on an API server) still works.
	obj = base(`,"status":{"conditions":[{"type":"Synced","status":"True"}]}`)
	delete(obj["metadata"].(map[string]any), "generation")
	if got, _, err := argoHealth(script, obj); err != nil || got != "Healthy" {
		t.Errorf("without generation: got %s, %v", got, err)
	}
}

// The VM offers what Argo CD's does and no more: a script calling the string library (which
// Argo CD does not load for health checks) fails here as it would there.
func TestNoStringLibrary(t *testing.T) {
	_, _, err := argoHealth(`local hs = {}; hs.status = string.upper("healthy"); return hs`, map[string]any{})
	if err == nil {
		t.Fatal("string library available; Argo CD does not load it")
	}
	if _, _, err := argoHealth(`return {status = "Healthy", message = table.concat({"a", "b"}, ",")}`, map[string]any{}); err != nil {
		t.Fatalf("table library: %v", err)
	}
}

// kstatus on the transient state the recorded run does not keep: a failure the controller is
// retrying (Reconciling=True next to Synced=False) is InProgress, not Failed; Stalled is Failed.
func TestKstatusOfRetriedAndStalledFailures(t *testing.T) {
	cases := []struct {
		name, conditions string
		want             status.Status
	}{
		{"retrying", `[{"type":"Synced","status":"False","message":"m"},{"type":"Reconciling","status":"True","reason":"Retrying","message":"m"}]`,
			status.InProgressStatus},
		{"stalled", `[{"type":"Synced","status":"False","message":"m"},{"type":"Stalled","status":"True","reason":"Failed","message":"m"}]`,
			status.FailedStatus},
		{"synced", `[{"type":"Synced","status":"True"}]`, status.CurrentStatus},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var obj map[string]any
			text := `{"apiVersion":"bitnami.com/v1alpha1","kind":"SealedSecret",
				"metadata":{"name":"x","namespace":"y","generation":3},
				"status":{"observedGeneration":3,"conditions":` + c.conditions + `}}`
			if err := utiljson.Unmarshal([]byte(text), &obj); err != nil {
				t.Fatal(err)
			}
			res, err := status.Compute(&unstructured.Unstructured{Object: obj})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != c.want {
				t.Errorf("kstatus: got %s (%s), want %s", res.Status, res.Message, c.want)
			}
		})
	}
}
