// Package all links in every action implementation. Import it for its side
// effect where actions are run.
package all
