package api

import (
	"encoding/json"
	"reflect"
	"testing"
)

// fill sets every field reachable from v to a value that is not zero (lists of two, present
// pointers, true flags, distinct numbers and strings), so a field that EncodeTrustView leaves out
// comes back different.
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n)
			}
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := 0; i < 2; i++ {
			fill(v.Index(i), n)
		}
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			fill(v.Index(i), n)
		}
	case reflect.String:
		v.SetString("s" + string(rune('a'+*n%26)))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n % 100))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(*n % 200))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(*n) / 7)
	default:
		panic("fill: no value for " + v.Type().String())
	}
}

// TestTrustViewCodec: the binary /trust/view answer (EncodingBinary) decodes to the answer
// encoded, every field of it included, and to what its JSON decodes to; an answer cut anywhere,
// or with bytes after its end, is refused, never half read.
func TestTrustViewCodec(t *testing.T) {
	var a TrustViewAnswer
	n := 0
	fill(reflect.ValueOf(&a).Elem(), &n)
	b := EncodeTrustView(a)
	got, err := DecodeTrustView(b)
	if err != nil || !reflect.DeepEqual(got, a) {
		t.Fatalf("decoded %+v, %v;\nwant %+v", got, err, a)
	}
	j, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var viaJSON TrustViewAnswer
	if err := json.Unmarshal(j, &viaJSON); err != nil || !reflect.DeepEqual(viaJSON, got) {
		t.Fatalf("JSON gives %+v, %v;\nbinary %+v", viaJSON, err, got)
	}
	t.Logf("%d fields: %d bytes in binary, %d in JSON", n, len(b), len(j))
	for cut := 0; cut < len(b); cut++ {
		if _, err := DecodeTrustView(b[:cut]); err == nil {
			t.Fatalf("cut at %d of %d bytes: decoded", cut, len(b))
		}
	}
	if _, err := DecodeTrustView(append(b, 0)); err == nil {
		t.Fatal("a byte after the end: decoded")
	}
	bad := append([]byte{}, b...)
	bad[0] = 9
	if _, err := DecodeTrustView(bad); err == nil {
		t.Fatal("another encoding version: decoded")
	}
	var empty TrustViewAnswer
	if got, err := DecodeTrustView(EncodeTrustView(empty)); err != nil || got.Height != 0 || len(got.Most) != 0 {
		t.Fatalf("an empty answer: %+v, %v", got, err)
	}
}
