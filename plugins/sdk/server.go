package sdk

import (
	"context"
	"errors"

	"github.com/hashicorp/go-hclog"
	"github.com/paymux/paymux/core"
	pb "github.com/paymux/paymux/plugins/proto"
)

// settlementBatch is how many settlement records travel in one stream message: large enough
// that a file of many thousand lines costs few messages, small enough (about 100 KiB) to stay
// far below MaxMessageSize.
const settlementBatch = 128

// server adapts a core.Provider to the generated gRPC service. It runs in the plugin process.
type server struct {
	pb.UnimplementedProviderServer
	impl core.Provider
	log  hclog.Logger
}

// fail logs err where it was produced, then returns the status that crosses the boundary
// (which carries no internal detail). The warning names only the code and the public message:
// the wrapped cause (core.Error.Err) may quote a gateway answer or a file path, so the full
// detail goes to debug level only.
func (s *server) fail(method string, err error) error {
	var ce *core.Error
	if !errors.As(err, &ce) || ce.Code == core.EINTERNAL || ce.Err != nil {
		s.log.Warn("provider call failed", "method", method, "code", core.ErrorCode(err), "message", core.ErrorMessage(err))
		if s.log.IsDebug() {
			s.log.Debug("provider call failed: detail", "method", method, "error", err.Error())
		}
	}
	return toStatus(err)
}

func (s *server) Describe(ctx context.Context, _ *pb.DescribeRequest) (_ *pb.Description, err error) {
	defer s.recoverCall("Describe", &err)
	d, err := s.impl.Describe(ctx)
	if err != nil {
		return nil, s.fail("Describe", err)
	}
	return descriptionToPB(d), nil
}

func (s *server) Configure(ctx context.Context, req *pb.ConfigureRequest) (_ *pb.ConfigureResponse, err error) {
	defer s.recoverCall("Configure", &err)
	if err := s.impl.Configure(ctx, &core.ConfigureRequest{Account: req.GetAccount(), Settings: req.GetSettings()}); err != nil {
		return nil, s.fail("Configure", err)
	}
	return &pb.ConfigureResponse{}, nil
}

func (s *server) CreatePayment(ctx context.Context, req *pb.CreatePaymentRequest) (_ *pb.CreatePaymentResult, err error) {
	defer s.recoverCall("CreatePayment", &err)
	res, err := s.impl.CreatePayment(ctx, createFromPB(req))
	if err != nil {
		return nil, s.fail("CreatePayment", err)
	}
	return createResultToPB(res), nil
}

func (s *server) VerifyClientResult(ctx context.Context, req *pb.ClientResultRequest) (_ *pb.ClientResult, err error) {
	defer s.recoverCall("VerifyClientResult", &err)
	res, err := s.impl.VerifyClientResult(ctx, clientResultReqFromPB(req))
	if err != nil {
		return nil, s.fail("VerifyClientResult", err)
	}
	return clientResultToPB(res), nil
}

func (s *server) ParseNotification(ctx context.Context, req *pb.NotificationRequest) (_ *pb.NotificationResult, err error) {
	defer s.recoverCall("ParseNotification", &err)
	res, err := s.impl.ParseNotification(ctx, notificationReqFromPB(req))
	if err != nil {
		return nil, s.fail("ParseNotification", err)
	}
	return notificationResultToPB(res), nil
}

func (s *server) QueryPayment(ctx context.Context, req *pb.QueryPaymentRequest) (_ *pb.PaymentState, err error) {
	defer s.recoverCall("QueryPayment", &err)
	res, err := s.impl.QueryPayment(ctx, &core.QueryPaymentRequest{Account: req.GetAccount(), OutTradeNo: req.GetOutTradeNo(), ProviderRef: req.GetProviderRef()})
	if err != nil {
		return nil, s.fail("QueryPayment", err)
	}
	return paymentStateToPB(res), nil
}

func (s *server) Refund(ctx context.Context, req *pb.RefundRequest) (_ *pb.RefundState, err error) {
	defer s.recoverCall("Refund", &err)
	res, err := s.impl.Refund(ctx, refundReqFromPB(req))
	if err != nil {
		return nil, s.fail("Refund", err)
	}
	return refundStateToPB(res), nil
}

func (s *server) QueryRefund(ctx context.Context, req *pb.QueryRefundRequest) (_ *pb.RefundState, err error) {
	defer s.recoverCall("QueryRefund", &err)
	res, err := s.impl.QueryRefund(ctx, &core.QueryRefundRequest{Account: req.GetAccount(), OutTradeNo: req.GetOutTradeNo(), OutRefundNo: req.GetOutRefundNo()})
	if err != nil {
		return nil, s.fail("QueryRefund", err)
	}
	return refundStateToPB(res), nil
}

func (s *server) Close(ctx context.Context, req *pb.ClosePaymentRequest) (_ *pb.PaymentState, err error) {
	defer s.recoverCall("Close", &err)
	c, ok := s.impl.(core.PaymentCloser)
	if !ok {
		return nil, toStatus(core.Errorf(core.EUNSUPPORTED, "this provider cannot close payments"))
	}
	res, err := c.Close(ctx, &core.ClosePaymentRequest{Account: req.GetAccount(), OutTradeNo: req.GetOutTradeNo(), ProviderRef: req.GetProviderRef()})
	if err != nil {
		return nil, s.fail("Close", err)
	}
	return paymentStateToPB(res), nil
}

func (s *server) FetchSettlement(req *pb.SettlementRequest, stream pb.Provider_FetchSettlementServer) (err error) {
	defer s.recoverCall("FetchSettlement", &err)
	f, ok := s.impl.(core.SettlementFetcher)
	if !ok {
		return toStatus(core.Errorf(core.EUNSUPPORTED, "this provider cannot fetch settlement records"))
	}
	batch := &pb.SettlementBatch{}
	flush := func() error {
		if len(batch.Records) == 0 {
			return nil
		}
		err := stream.Send(batch)
		batch = &pb.SettlementBatch{}
		return err
	}
	err = f.FetchSettlement(stream.Context(), settlementReqFromPB(req), func(r *core.SettlementRecord) error {
		batch.Records = append(batch.Records, settlementRecordToPB(r))
		if len(batch.Records) >= settlementBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return s.fail("FetchSettlement", err)
	}
	return nil
}
