//go:build !unix

package media

import "os"

// openFlags opens for reading; without O_NONBLOCK the stat before the open
// keeps named pipes out.
const openFlags = os.O_RDONLY
