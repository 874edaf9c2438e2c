package antom

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/paymux/paymux/core"
)

// The JSON shapes of AMS (antom.md sections 4-8), only the fields paymux sends or reads.

type result struct {
	ResultCode    string `json:"resultCode"`
	ResultStatus  string `json:"resultStatus"`
	ResultMessage string `json:"resultMessage,omitempty"`
}

type amount struct {
	Currency string `json:"currency"`
	Value    string `json:"value"`
}

func toAmount(m core.Money) amount {
	return amount{Currency: m.Currency, Value: strconv.FormatInt(m.Value, 10)}
}

// money reads an Amount: value is a string of a non-negative integer in minor units. A JSON
// number is refused (the docs ask for strings; a float would be a different protocol).
func (a *amount) money() (core.Money, error) {
	if a == nil || a.Currency == "" && a.Value == "" {
		return core.Money{}, nil
	}
	if !core.ValidCurrency(a.Currency) {
		return core.Money{}, core.Errorf(core.EINVALID, "amount currency %q is not ISO 4217", a.Currency)
	}
	if a.Value == "" || len(a.Value) > 18 {
		return core.Money{}, core.Errorf(core.EINVALID, "amount value %q is not a minor-unit integer", a.Value)
	}
	for i := 0; i < len(a.Value); i++ {
		if a.Value[i] < '0' || a.Value[i] > '9' {
			return core.Money{}, core.Errorf(core.EINVALID, "amount value %q is not a minor-unit integer", a.Value)
		}
	}
	v, err := strconv.ParseInt(a.Value, 10, 64)
	if err != nil {
		return core.Money{}, core.Errorf(core.EINVALID, "amount value %q is not a minor-unit integer", a.Value)
	}
	return core.Money{Value: v, Currency: a.Currency}, nil
}

type env struct {
	TerminalType string `json:"terminalType"`
	OSType       string `json:"osType,omitempty"`
	ClientIP     string `json:"clientIp,omitempty"`
}

type order struct {
	ReferenceOrderID string `json:"referenceOrderId"`
	OrderDescription string `json:"orderDescription"`
	OrderAmount      amount `json:"orderAmount"`
	Env              *env   `json:"env,omitempty"`
}

type payRequest struct {
	ProductCode      string `json:"productCode"`
	PaymentRequestID string `json:"paymentRequestId"`
	Order            order  `json:"order"`
	PaymentAmount    amount `json:"paymentAmount"`
	PaymentMethod    struct {
		PaymentMethodType string `json:"paymentMethodType"`
	} `json:"paymentMethod"`
	PaymentRedirectURL string              `json:"paymentRedirectUrl"`
	PaymentNotifyURL   string              `json:"paymentNotifyUrl,omitempty"`
	PaymentExpiryTime  string              `json:"paymentExpiryTime,omitempty"`
	Env                *env                `json:"env,omitempty"`
	SettlementStrategy *settlementStrategy `json:"settlementStrategy,omitempty"`
}

type settlementStrategy struct {
	SettlementCurrency string `json:"settlementCurrency"`
}

type codeDetail struct {
	CodeValue     string `json:"codeValue"`
	CodeValueType string `json:"codeValueType"`
	DisplayType   string `json:"displayType"`
}

type payResponse struct {
	Result           result  `json:"result"`
	PaymentRequestID string  `json:"paymentRequestId"`
	PaymentID        string  `json:"paymentId"`
	NormalURL        string  `json:"normalUrl"`
	SchemeURL        string  `json:"schemeUrl"`
	ApplinkURL       string  `json:"applinkUrl"`
	AppIdentifier    string  `json:"appIdentifier"`
	PaymentAmount    *amount `json:"paymentAmount"`
	OrderCodeForm    *struct {
		CodeDetails []codeDetail `json:"codeDetails"`
	} `json:"orderCodeForm"`
}

type inquiryPaymentResponse struct {
	Result            result  `json:"result"`
	PaymentStatus     string  `json:"paymentStatus"`
	PaymentResultCode string  `json:"paymentResultCode"`
	PaymentRequestID  string  `json:"paymentRequestId"`
	PaymentID         string  `json:"paymentId"`
	PaymentAmount     *amount `json:"paymentAmount"`
	PaymentTime       string  `json:"paymentTime"`
	PaymentMethodType string  `json:"paymentMethodType"`
}

type cancelResponse struct {
	Result           result `json:"result"`
	PaymentID        string `json:"paymentId"`
	PaymentRequestID string `json:"paymentRequestId"`
	CancelTime       string `json:"cancelTime"`
}

type refundRequest struct {
	RefundRequestID string `json:"refundRequestId"`
	PaymentID       string `json:"paymentId"`
	RefundAmount    amount `json:"refundAmount"`
	RefundReason    string `json:"refundReason,omitempty"`
	RefundNotifyURL string `json:"refundNotifyUrl,omitempty"`
}

type refundResponse struct {
	Result          result  `json:"result"`
	RefundRequestID string  `json:"refundRequestId"`
	RefundID        string  `json:"refundId"`
	PaymentID       string  `json:"paymentId"`
	RefundAmount    *amount `json:"refundAmount"`
	RefundTime      string  `json:"refundTime"`
}

type inquiryRefundResponse struct {
	Result          result  `json:"result"`
	RefundRequestID string  `json:"refundRequestId"`
	RefundID        string  `json:"refundId"`
	RefundAmount    *amount `json:"refundAmount"`
	RefundStatus    string  `json:"refundStatus"`
	RefundTime      string  `json:"refundTime"`
}

// notification is the body of notifyPayment and notifyRefund (antom.md sections 5.2 and 8).
type notification struct {
	NotifyType        string          `json:"notifyType"`
	Result            result          `json:"result"`
	PaymentRequestID  string          `json:"paymentRequestId"`
	PaymentID         string          `json:"paymentId"`
	PaymentAmount     *amount         `json:"paymentAmount"`
	PaymentCreateTime string          `json:"paymentCreateTime"`
	PaymentTime       string          `json:"paymentTime"`
	PaymentMethodType string          `json:"paymentMethodType"`
	RefundRequestID   string          `json:"refundRequestId"`
	RefundID          string          `json:"refundId"`
	RefundStatus      string          `json:"refundStatus"`
	RefundAmount      *amount         `json:"refundAmount"`
	RefundTime        string          `json:"refundTime"`
	PaymentQuote      json.RawMessage `json:"paymentQuote"` // quotePrice is a JSON number; kept raw, never a float
	PSPCustomerInfo   *struct {
		PSPName string `json:"pspName"`
	} `json:"pspCustomerInfo"`
}

// parseTime reads an ISO 8601 time with an offset; "" and unparsable values are the zero time
// (a time is informational; the status decides).
func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05-0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// expiryTime formats a paymentExpiryTime: ISO 8601 at seconds with an explicit offset.
func expiryTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05-07:00") }
