package vmlab

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
)

// ModuleDeps is a parsed modules.dep: for each module name (normalised, see
// ModuleName) its file path relative to /lib/modules/<kver> and the paths of
// the modules it needs.
//
// modules.dep lines look like
//
//	kernel/drivers/net/usb/cdc_ether.ko: kernel/drivers/net/usb/usbnet.ko kernel/net/mii.ko
//
// depmod already lists the full transitive set, but Closure does not rely on
// that: it walks the graph itself, so a hand-written or partial file works too.
type ModuleDeps struct {
	Path map[string]string   // name -> relative path
	Deps map[string][]string // name -> names of direct dependencies, in file order
}

// ModuleName turns a module path or name into the kernel's canonical module
// name: base name, no .ko/.ko.xz/.ko.zst/.ko.gz suffix, '-' replaced by '_'
// (modprobe treats "xhci-pci" and "xhci_pci" as the same module).
func ModuleName(p string) string {
	b := path.Base(p)
	if i := strings.Index(b, ".ko"); i >= 0 {
		b = b[:i]
	}
	return strings.ReplaceAll(b, "-", "_")
}

// ParseModulesDep reads a modules.dep file. Malformed lines are reported
// with their line number.
func ParseModulesDep(r io.Reader) (*ModuleDeps, error) {
	d := &ModuleDeps{Path: map[string]string{}, Deps: map[string][]string{}}
	depPath := map[string]string{} // paths seen only as dependencies
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		mod, deps, ok := strings.Cut(text, ":")
		mod = strings.TrimSpace(mod)
		if !ok || mod == "" || !strings.Contains(path.Base(mod), ".ko") {
			return nil, fmt.Errorf("modules.dep line %d: %q is not \"<module>.ko: <deps>\"", line, text)
		}
		name := ModuleName(mod)
		if old, dup := d.Path[name]; dup {
			return nil, fmt.Errorf("modules.dep line %d: module %s listed twice (%s and %s)", line, name, old, mod)
		}
		d.Path[name] = mod
		var names []string
		for _, dep := range strings.Fields(deps) {
			names = append(names, ModuleName(dep))
			depPath[ModuleName(dep)] = dep
		}
		d.Deps[name] = names
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("modules.dep: %w", err)
	}
	// Dependencies without a line of their own are leaf modules.
	for name, p := range depPath {
		if _, known := d.Path[name]; !known {
			d.Path[name] = p
		}
	}
	return d, nil
}

// Closure returns the relative paths of the named modules and everything
// they depend on, dependencies before dependents (the order insmod needs),
// ties broken by name so the result is deterministic. Names found in builtin
// (modules.builtin, built into the kernel image) are satisfied without a
// file. An unknown name is an error naming it.
func (d *ModuleDeps) Closure(names []string, builtin map[string]bool) ([]string, error) {
	const (
		unseen = iota
		visiting
		done
	)
	state := map[string]int{}
	var out []string
	var visit func(name, from string) error
	visit = func(name, from string) error {
		switch state[name] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("module %s: dependency cycle through %s", name, from)
		}
		p, ok := d.Path[name]
		if !ok {
			if builtin[name] {
				state[name] = done
				return nil
			}
			if from != "" {
				return fmt.Errorf("module %s (needed by %s): not in modules.dep", name, from)
			}
			return fmt.Errorf("module %s: not in modules.dep and not built in", name)
		}
		state[name] = visiting
		deps := append([]string(nil), d.Deps[name]...)
		sort.Strings(deps)
		for _, dep := range deps {
			if err := visit(dep, name); err != nil {
				return err
			}
		}
		state[name] = done
		out = append(out, p)
		return nil
	}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	for _, n := range sorted {
		if err := visit(ModuleName(n), ""); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ParseBuiltin reads modules.builtin (one path per line) into a set of names.
func ParseBuiltin(r io.Reader) (map[string]bool, error) {
	set := map[string]bool{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			set[ModuleName(l)] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("modules.builtin: %w", err)
	}
	return set, nil
}

// Subset writes a modules.dep for just the given module paths (which must
// be closed under dependencies, as Closure's result is), in the same format,
// so that modprobe inside the guest resolves exactly what the initramfs holds.
func (d *ModuleDeps) Subset(w io.Writer, paths []string) error {
	have := map[string]bool{}
	for _, p := range paths {
		have[ModuleName(p)] = true
	}
	bw := bufio.NewWriter(w)
	for _, p := range paths {
		name := ModuleName(p)
		fmt.Fprintf(bw, "%s:", p)
		for _, dep := range d.Deps[name] {
			if !have[dep] {
				return fmt.Errorf("modules.dep subset: %s needs %s, which is not in the set", name, dep)
			}
			fmt.Fprintf(bw, " %s", d.Path[dep])
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// FilterAliases copies the lines of a modules.alias or modules.symbols file
// ("alias <pattern> <module>") whose module is in names, so that the guest's
// modprobe can resolve aliases the kernel requests (net-pf-17, fs-9p, ...).
func FilterAliases(w io.Writer, r io.Reader, names map[string]bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	bw := bufio.NewWriter(w)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == "alias" && names[ModuleName(f[2])] {
			bw.WriteString(sc.Text())
			bw.WriteByte('\n')
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("modules alias file: %w", err)
	}
	return bw.Flush()
}
