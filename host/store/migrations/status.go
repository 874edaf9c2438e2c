package migrations

import (
	"fmt"
	"slices"
)

// Applied is one row of a database's schema_migrations table.
type Applied struct {
	Version   int
	Name      string
	AppliedAt string // RFC 3339, as recorded
}

// Status compares a database's applied migrations with the ones this binary carries.
type Status struct {
	Applied []Applied   // in the database, in version order
	Pending []Migration // known here, not yet applied: paymux migrate up (or serve) applies them
	Unknown []Applied   // applied but unknown here: the database is newer than this binary
}

// Compare builds the Status of a database that has applied, for a binary that knows known.
func Compare(known []Migration, applied []Applied) *Status {
	s := &Status{Applied: slices.Clone(applied)}
	slices.SortFunc(s.Applied, func(a, b Applied) int { return a.Version - b.Version })
	have := map[int]bool{}
	for _, a := range s.Applied {
		have[a.Version] = true
	}
	isKnown := map[int]bool{}
	for _, m := range known {
		isKnown[m.Version] = true
		if !have[m.Version] {
			s.Pending = append(s.Pending, m)
		}
	}
	for _, a := range s.Applied {
		if !isKnown[a.Version] {
			s.Unknown = append(s.Unknown, a)
		}
	}
	return s
}

// Version is the highest applied migration, 0 for an empty database.
func (s *Status) Version() int {
	if len(s.Applied) == 0 {
		return 0
	}
	return s.Applied[len(s.Applied)-1].Version
}

// TooNew is the error of a binary older than the database's schema, nil when it is not.
func (s *Status) TooNew() error {
	if len(s.Unknown) == 0 {
		return nil
	}
	return fmt.Errorf("the database has migration %03d_%s, which this paymux does not know: the schema is newer than this binary; run a paymux at least as new as the one that migrated it",
		s.Unknown[0].Version, s.Unknown[0].Name)
}
