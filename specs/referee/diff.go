package referee

// Edit is one line of a request diff.
type Edit struct {
	Op  byte   // ' ' both, '-' only the first sequence (the kernel's), '+' only the second (dongle's)
	Key string // Request.Key
	A   int    // index in the first sequence (-1 for '+')
	B   int    // index in the second sequence (-1 for '-')
}

// Diff is the shortest edit script turning a's request keys into b's (a
// longest-common-subsequence diff, like diff(1)): which requests only one
// driver makes, and where the order differs.
func Diff(a, b []Request) []Edit {
	n, m := len(a), len(b)
	// lcs[i][j] = LCS length of a[i:], b[j:]
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i].Key() == b[j].Key() {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []Edit
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i].Key() == b[j].Key():
			out = append(out, Edit{' ', a[i].Key(), i, j})
			i++
			j++
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			out = append(out, Edit{'+', b[j].Key(), -1, j})
			j++
		default:
			out = append(out, Edit{'-', a[i].Key(), i, -1})
			i++
		}
	}
	return out
}
