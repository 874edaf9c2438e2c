package antomsim

import (
	"errors"
	"net/http"
)

// FaultKind is a misbehaviour the simulator can be told to show.
type FaultKind string

const (
	// FaultStatus answers HTTP Status (default 502) without doing anything.
	FaultStatus FaultKind = "status"
	// FaultHang never answers (the caller must give up at its deadline); nothing happens.
	FaultHang FaultKind = "hang"
	// FaultUnknown answers U/UNKNOWN_EXCEPTION without doing anything: a retry gets the real outcome.
	FaultUnknown FaultKind = "unknown"
	// FaultUnknownCommitted does the call, then answers U/UNKNOWN_EXCEPTION.
	FaultUnknownCommitted FaultKind = "unknown_committed"
	// FaultLostResponse does the call, then drops the connection: the answer is lost after commit.
	FaultLostResponse FaultKind = "lost_response"
	// FaultUnsigned does the call and answers without a signature.
	FaultUnsigned FaultKind = "unsigned"
	// FaultBadSignature does the call and answers with a signature that does not verify.
	FaultBadSignature FaultKind = "bad_signature"
	// FaultDuplicateNotify delivers each notification of the merchant twice.
	FaultDuplicateNotify FaultKind = "duplicate_notify"
	// FaultPendingFirst sends PAYMENT_PENDING before each PAYMENT_RESULT.
	FaultPendingFirst FaultKind = "pending_first"
	// FaultStalePending sends PAYMENT_PENDING after each PAYMENT_RESULT (out of order).
	FaultStalePending FaultKind = "stale_pending"
	// FaultLoseNotify loses the first delivery attempt of each notification (the merchant never
	// sees it; Delivery.Lost counts it); the retries follow the schedule.
	FaultLoseNotify FaultKind = "lose_notify"
)

var callFaults = map[FaultKind]bool{FaultStatus: true, FaultHang: true, FaultUnknown: true, FaultUnknownCommitted: true,
	FaultLostResponse: true, FaultUnsigned: true, FaultBadSignature: true}

var notifyFaults = map[FaultKind]bool{FaultDuplicateNotify: true, FaultPendingFirst: true, FaultStalePending: true, FaultLoseNotify: true}

// Fault is one injected misbehaviour.
type Fault struct {
	Kind     FaultKind `json:"kind"`
	ClientID string    `json:"client_id,omitempty"` // "" matches every merchant
	API      string    `json:"api,omitempty"`       // pay, refund, ...; "" matches every API (call faults only)
	Status   int       `json:"status,omitempty"`    // FaultStatus only
	Count    int       `json:"count,omitempty"`     // how many times; 0 means until removed
}

type faultEntry struct {
	Fault
	id   int
	used int
}

func (f *faultEntry) status() int {
	if f.Status >= 400 && f.Status <= 599 {
		return f.Status
	}
	return http.StatusBadGateway
}

// SetFault switches a fault on and returns its id for RemoveFault.
func (s *Sim) SetFault(f Fault) (int, error) {
	if !callFaults[f.Kind] && !notifyFaults[f.Kind] {
		return 0, errors.New("antomsim: unknown fault kind " + string(f.Kind))
	}
	if f.Count < 0 {
		return 0, errors.New("antomsim: negative fault count")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faultSeq++
	s.faults = append(s.faults, &faultEntry{Fault: f, id: s.faultSeq})
	return s.faultSeq, nil
}

// RemoveFault switches a fault off.
func (s *Sim) RemoveFault(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.id == id {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
			return
		}
	}
}

type faultPhase int

const (
	beforeCall faultPhase = iota
	onNotify
)

// takeFault returns the first matching fault of the phase and counts its use.
func (s *Sim) takeFault(clientID, api string, phase faultPhase) *faultEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.takeFaultLocked(clientID, api, phase)
}

func (s *Sim) takeFaultLocked(clientID, api string, phase faultPhase) *faultEntry {
	for i, f := range s.faults {
		if (phase == beforeCall) != callFaults[f.Kind] || f.ClientID != "" && f.ClientID != clientID || f.API != "" && f.API != api {
			continue
		}
		f.used++
		if f.Count > 0 && f.used >= f.Count {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		cp := *f
		return &cp
	}
	return nil
}
