// Package models holds the domain of the installation-centre service: the things it
// keeps, their states, the rules about values that need no storage, and the error kinds
// every layer speaks. It imports neither the database nor HTTP.
package models

import (
	"errors"
	"fmt"
)

// ErrorKind classifies an error so that one table at the edge can map it to a status.
type ErrorKind int

// The error kinds. Their HTTP statuses are decided in one place, in package api.
const (
	KindInternal ErrorKind = iota
	KindInvalid
	KindUnauthenticated
	KindForbidden
	KindNotFound
	KindConflict
	KindUnprocessable
	KindTooManyRequests
	KindTooLarge
)

// FieldError names one field of a request and the rule it broke.
type FieldError struct {
	Field   string `json:"field"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// Error is the error every service method returns for anything a caller can act on.
// Code is stable and machine readable (slot_full, validation_failed); Message is for
// people and never carries internal details.
type Error struct {
	Kind    ErrorKind
	Code    string
	Message string
	Fields  []FieldError
	// RetryAfter, in seconds, accompanies KindTooManyRequests.
	RetryAfter int
}

func (e *Error) Error() string {
	if len(e.Fields) > 0 {
		return fmt.Sprintf("%s: %s (%s: %s)", e.Code, e.Message, e.Fields[0].Field, e.Fields[0].Rule)
	}
	return e.Code + ": " + e.Message
}

// Errorf builds an Error of the given kind and code.
func Errorf(kind ErrorKind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid reports input that breaks a rule of form, naming the fields.
func Invalid(fields ...FieldError) *Error {
	msg := "the request has invalid fields"
	if len(fields) == 1 {
		msg = fields[0].Field + ": " + fields[0].Message
	}
	return &Error{Kind: KindInvalid, Code: "validation_failed", Message: msg, Fields: fields}
}

// NotFound reports a record that does not exist or that the caller may not see; the two
// are deliberately indistinguishable.
func NotFound(what string) *Error {
	return Errorf(KindNotFound, "not_found", "%s not found", what)
}

// Forbidden reports a role that may not do what it asked.
func Forbidden() *Error {
	return Errorf(KindForbidden, "forbidden", "your role may not do this")
}

// StaleVersion reports an edit based on a version someone else has since changed.
func StaleVersion(what string) *Error {
	return Errorf(KindConflict, "version_conflict", "%s was changed by someone else; reload it and try again", what)
}

// AsError returns the *Error inside err, if there is one.
func AsError(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// ErrorCode returns the stable code of err, or "internal" for anything unexpected.
func ErrorCode(err error) string {
	if e, ok := AsError(err); ok {
		return e.Code
	}
	return "internal"
}
