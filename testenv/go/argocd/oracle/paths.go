package main

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	gescheme "github.com/argoproj/argo-cd/gitops-engine/pkg/utils/kube/scheme"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// paths lists where Argo CD's normalized live and predicted live states differ, as JSON
// pointers in live coordinates: leaves; a key only one side has; list items matched by their
// strategic-merge key for built-in kinds (the k-th item with a key value matches the k-th
// item with the same value on the other side), index by index otherwise; an item only one side
// has by its own index (a predicted-only keyed item after live's items, where it would be
// appended); a list whose matched items are in another order by the list itself.
func paths(live, predicted any, ref *unstructured.Unstructured) []string {
	var meta strategicpatch.LookupPatchMeta
	if ref != nil {
		if typed, err := gescheme.Scheme.New(ref.GroupVersionKind()); err == nil {
			if m, err := strategicpatch.NewPatchMetaFromStruct(typed); err == nil {
				meta = m
			}
		}
	}
	out := map[string]bool{}
	walk(live, predicted, "", meta, out)
	list := make([]string, 0, len(out))
	for p := range out {
		list = append(list, p)
	}
	sort.Strings(list)
	return list
}

func escape(k string) string {
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

func walk(a, b any, at string, meta strategicpatch.LookupPatchMeta, out map[string]bool) {
	x, xok := a.(map[string]any)
	y, yok := b.(map[string]any)
	if !xok || !yok {
		xl, xlok := a.([]any)
		yl, ylok := b.([]any)
		if xlok && ylok {
			walkList(xl, yl, at, meta, "", out)
			return
		}
		if !reflect.DeepEqual(a, b) {
			out[at] = true
		}
		return
	}
	keys := map[string]bool{}
	for k := range x {
		keys[k] = true
	}
	for k := range y {
		keys[k] = true
	}
	for k := range keys {
		p := at + "/" + escape(k)
		va, oka := x[k]
		vb, okb := y[k]
		if !oka || !okb {
			out[p] = true
			continue
		}
		_, la := va.([]any)
		_, lb := vb.([]any)
		var sub strategicpatch.LookupPatchMeta
		mergeKey := ""
		if meta != nil {
			var pm strategicpatch.PatchMeta
			var err error
			if la || lb {
				sub, pm, err = meta.LookupPatchMetadataForSlice(k)
				mergeKey = pm.GetPatchMergeKey()
			} else {
				sub, _, err = meta.LookupPatchMetadataForStruct(k)
			}
			if err != nil {
				sub, mergeKey = nil, ""
			}
		}
		if la && lb {
			walkList(va.([]any), vb.([]any), p, sub, mergeKey, out)
		} else {
			walk(va, vb, p, sub, out)
		}
	}
}

func itemKey(v any, mergeKey string) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", false
	}
	k, ok := m[mergeKey]
	if !ok {
		return "", false
	}
	return fmt.Sprintf("%v", k), true
}

func walkList(a, b []any, at string, elem strategicpatch.LookupPatchMeta, mergeKey string, out map[string]bool) {
	keyed := mergeKey != ""
	if keyed {
		for _, v := range append(append([]any{}, a...), b...) {
			if _, ok := itemKey(v, mergeKey); !ok {
				keyed = false
				break
			}
		}
	}
	if !keyed {
		for i := 0; i < len(a) || i < len(b); i++ {
			p := at + "/" + strconv.Itoa(i)
			if i < len(a) && i < len(b) {
				walk(a[i], b[i], p, elem, out)
			} else {
				out[p] = true
			}
		}
		return
	}
	// The k-th occurrence of a key value on one side matches the k-th on the other.
	slots := map[string][]int{}
	for j, v := range b {
		k, _ := itemKey(v, mergeKey)
		slots[k] = append(slots[k], j)
	}
	used := make([]bool, len(b))
	last := -1
	reordered := false
	for i, v := range a {
		k, _ := itemKey(v, mergeKey)
		p := at + "/" + strconv.Itoa(i)
		if len(slots[k]) == 0 {
			out[p] = true
			continue
		}
		j := slots[k][0]
		slots[k] = slots[k][1:]
		used[j] = true
		if j < last {
			reordered = true
		}
		last = j
		walk(a[i], b[j], p, elem, out)
	}
	// An item only the prediction has goes where live would get it: after live's items.
	extra := len(a)
	for j := range b {
		if !used[j] {
			out[at+"/"+strconv.Itoa(extra)] = true
			extra++
		}
	}
	if reordered {
		out[at] = true
	}
}
