package mapi

import "time"

// Beijing is the gateway's time zone (GMT+8, no daylight saving): notify_time, gmt_*, gmt_return
// and the file dates are all in it. A fixed zone avoids depending on the host's tzdata.
var Beijing = time.FixedZone("CST", 8*3600)

// Layouts the gateway uses.
const (
	LayoutDateTime = "2006-01-02 15:04:05" // notify_time, gmt_create, gmt_payment
	LayoutCompact  = "20060102150405"      // gmt_return, file timestamps
	LayoutDate     = "20060102"            // start_date, end_date
)

// ParseTime parses a gateway timestamp in either layout as Beijing time; "" gives the zero time.
func ParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	layout := LayoutDateTime
	if len(s) == len(LayoutCompact) {
		layout = LayoutCompact
	}
	return time.ParseInLocation(layout, s, Beijing)
}
