package loggen

// Value pools for placeholders, nginx lines and Java stack traces. The
// placeholder pools hold no '"' or '\\', so their values can be written
// into JSON strings unescaped; TestEveryTemplate checks that.

var (
	currencies = []string{"USD", "USD", "USD", "EUR", "EUR", "CNY", "CNY", "HKD", "GBP", "JPY", "SGD", "CHF"}
	symbols    = []string{"AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "GOOGL", "META", "BABA", "0700.HK", "9988.HK", "600519.SS", "BTC-USD", "ETH-USD", "EURUSD", "USDCNH", "SPY", "QQQ", "JPM", "V", "TSM"}
	sides      = []string{"BUY", "SELL"}
	methods    = []string{"GET", "GET", "GET", "GET", "GET", "GET", "POST", "POST", "POST", "PUT", "DELETE", "PATCH"}
	timeoutsMs = []int{500, 1000, 2000, 3000, 5000, 10000, 30000}
	ports      = []int{8080, 8080, 8443, 5432, 6379, 9092, 443, 3306, 9200, 50051}
	poolMaxes  = []int{10, 20, 32, 50, 64}
	batchSizes = []int{50, 100, 250, 500, 1000, 5000}

	errorMessages = []string{
		"connection refused",
		"context deadline exceeded",
		"i/o timeout",
		"connection reset by peer",
		"unexpected EOF",
		"no such host",
		"broken pipe",
		"too many open files",
		"TLS handshake timeout",
		"read: connection timed out",
		"503 Service Unavailable",
		"upstream connect error or disconnect/reset before headers",
		"Connection is not available, request timed out after 30000ms",
		"could not serialize access due to concurrent update",
		"insufficient funds",
		"card declined by issuer",
		"invalid signature",
		"token is expired",
		"record not found",
		"duplicate key value violates unique constraint",
		"the database system is in recovery mode",
		"dial tcp 10.96.12.7:5432: connect: connection refused",
		"rpc error: code = Unavailable desc = connection error",
		"rpc error: code = DeadlineExceeded desc = context deadline exceeded",
		"kafka: client has run out of available brokers to talk to",
		"json: cannot unmarshal string into Go value of type int64",
	}
	errorCodes = []string{"INSUFFICIENT_FUNDS", "CARD_DECLINED", "LIMIT_EXCEEDED", "TIMEOUT", "UPSTREAM_UNAVAILABLE", "INVALID_ACCOUNT", "RISK_REJECTED", "DUPLICATE_REQUEST", "E1042", "E2001", "E5003", "ACCOUNT_FROZEN"}
	topics     = []string{"orders.v1", "trades.executed", "payments.events", "ledger.postings", "accounts.changes", "notifications.outbox", "market.quotes", "risk.alerts", "settlement.batches", "audit.log"}
	groups     = []string{"ledger-writer", "risk-evaluator", "notifier", "settlement-worker", "audit-sink", "search-indexer", "recon-matcher"}
	tables     = []string{"accounts", "orders", "trades", "ledger_entries", "payments", "positions", "users", "sessions", "audit_events", "fx_rates", "settlement_batches", "kyc_checks"}
	dbHosts    = []string{"postgres-primary.data.svc.cluster.local", "postgres-replica.data.svc.cluster.local", "redis.data.svc.cluster.local", "redis-cache.prod.svc.cluster.local", "kafka-0.kafka-headless.data.svc.cluster.local", "ledger-db.payments.svc.cluster.local"}
	queues     = []string{"email-outbox", "sms-outbox", "settlement", "reports", "webhooks", "dead-letter"}
	jobs       = []string{"eod-settlement", "daily-statements", "recon-visa", "recon-unionpay", "interest-accrual", "session-cleanup", "export-trades", "fx-snapshot", "margin-call-scan", "archive-audit"}
	regions    = []string{"cn-north-1", "cn-east-2", "ap-southeast-1", "eu-west-1", "us-east-1"}
	cacheKeys  = []string{"user:#:profile", "account:#:balance", "quote:#", "session:#", "order:#:status", "ratelimit:#", "fx:#:latest", "cart:#"}
	versions   = []string{"v1.14.2", "v1.14.3", "v2.3.0", "v2.3.1", "v3.0.0-rc.2", "1.29.4", "2.8.11"}
	countries  = []string{"CN", "CN", "CN", "HK", "SG", "US", "GB", "DE", "JP", "AU", "FR", "NL"}
	endpoints  = []string{"https://api.stripe.com/v1/charges", "https://risk-engine.risk.svc:8080/v1/score", "https://fx-rates.prod.svc:8080/v1/rates", "http://ledger.payments.svc:8080/v1/postings", "https://open.unionpay.com/gateway/api", "https://openapi.alipay.com/gateway.do", "http://inventory.prod.svc:8080/v1/reserve", "grpc://pricing.prod.svc:50051", "https://hooks.merchant.example/notify"}
	users      = []string{"ledger_app", "trading_app", "replicator", "readonly", "postgres", "recon_job"}
	providers  = []string{"visa", "mastercard", "unionpay", "alipay", "wechatpay", "paypal", "applepay", "sms", "email"}

	// Java stack trace material.
	javaClasses = []string{"OrderService", "OrderController", "PaymentService", "LedgerRepository", "AccountService", "MarginCalculator", "RiskClient", "SettlementJob", "FxRateProvider", "KafkaEventPublisher", "TransactionManager", "AuthFilter", "QuoteCache", "StatementGenerator", "ReconciliationMatcher", "NotificationSender", "PositionKeeper", "FeeCalculator", "KycVerifier", "AuditLogger"}
	javaLayers  = []string{"web", "service", "repository", "client", "domain", "messaging", "config", "job"}
	javaMethods = []string{"handle", "process", "execute", "placeOrder", "reserveFunds", "postEntry", "findById", "save", "authorize", "capture", "publish", "apply", "calculate", "validate", "lambda$process$0", "doFilterInternal", "call", "run", "settle", "match"}
	threads     = []string{"main", "scheduling-1", "kafka-consumer-1", "kafka-consumer-2", "HikariPool-1 housekeeper", "pool-2-thread-1", "task-3", "ForkJoinPool.commonPool-worker-5"}

	// nginx material. '#' in a path becomes a number.
	nginxPaths = []string{
		"/api/v1/orders/#", "/api/v1/orders", "/api/v1/orders/#/status", "/api/v1/accounts/#/balance",
		"/api/v1/users/#/profile", "/api/v1/quotes/AAPL", "/api/v1/quotes/NVDA", "/api/v1/payments",
		"/api/v1/payments/#/refund", "/api/v2/trades?account=#&limit=50", "/api/v1/cart/#", "/api/v1/checkout",
		"/api/v1/search?q=phone&page=#", "/auth/token", "/auth/refresh", "/healthz", "/readyz", "/metrics",
		"/", "/index.html", "/static/js/main.#.js", "/static/css/app.#.css", "/static/img/logo.svg",
		"/favicon.ico", "/ws/quotes", "/api/v1/statements/#.pdf", "/admin/users?page=#", "/docs/getting-started",
	}
	referers   = []string{"-", "-", "-", "https://app.kubemate.io/", "https://app.kubemate.io/trade", "https://app.kubemate.io/checkout", "https://www.google.com/", "https://admin.kubemate.io/users"}
	userAgents = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
		"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
		"KubemateApp/4.12.0 (iOS 18.1; iPhone15,2)",
		"KubemateApp/4.12.0 (Android 14; SM-S918B)",
		"okhttp/4.12.0",
		"Go-http-client/2.0",
		"curl/8.5.0",
		"kube-probe/1.31",
		"Prometheus/2.55.1",
		"python-requests/2.32.3",
	}
	upstreamServices = []string{"api-gateway-8080", "checkout-8080", "trading-service-8080", "frontend-web-80", "auth-8080", "payments-api-8080", "search-8080"}

	// Mainland ID number region prefixes (province, city, district).
	idRegions = []string{"110105", "110108", "310104", "310115", "440305", "440106", "330106", "320106", "510107", "420106", "610113", "500103", "120101", "350203"}
)

// exceptionSpec is a Java exception class with message templates.
type exceptionSpec struct {
	class string
	msgs  []string // templates without fields
	lib   []string // frames from the library that threw it, top first
}

var exceptions = []exceptionSpec{
	{"java.lang.IllegalStateException", []string{"Insufficient margin for account {account_id}", "Order {order_id} is already settled", "Ledger is not balanced for tx {tx_id}"}, nil},
	{"java.lang.NullPointerException", []string{"Cannot invoke \"java.math.BigDecimal.add(java.math.BigDecimal)\" because \"fee\" is null", "Cannot invoke \"com.kubemate.domain.Account.getBalance()\" because \"account\" is null"}, nil},
	{"java.lang.IllegalArgumentException", []string{"Unsupported settlement currency: {currency}", "Quantity must be positive: -{qty}"}, nil},
	{"java.sql.SQLTransientConnectionException", []string{"HikariPool-1 - Connection is not available, request timed out after {timeout_ms}ms."}, []string{
		"com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:686)",
		"com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:179)",
		"com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:144)",
		"com.zaxxer.hikari.HikariDataSource.getConnection(HikariDataSource.java:127)",
		"org.springframework.jdbc.datasource.DataSourceTransactionManager.doBegin(DataSourceTransactionManager.java:265)",
	}},
	{"org.springframework.dao.DataIntegrityViolationException", []string{"could not execute statement; SQL [n/a]; constraint [{table}_pkey]"}, []string{
		"org.springframework.orm.jpa.vendor.HibernateJpaDialect.convertHibernateAccessException(HibernateJpaDialect.java:290)",
		"org.springframework.orm.jpa.vendor.HibernateJpaDialect.translateExceptionIfPossible(HibernateJpaDialect.java:241)",
		"org.springframework.dao.support.PersistenceExceptionTranslationInterceptor.invoke(PersistenceExceptionTranslationInterceptor.java:138)",
	}},
	{"java.net.SocketTimeoutException", []string{"Read timed out", "Connect timed out"}, []string{
		"java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:278)",
		"java.base/sun.nio.ch.NioSocketImpl.implRead(NioSocketImpl.java:304)",
		"java.base/java.net.Socket$SocketInputStream.read(Socket.java:1099)",
		"okhttp3.internal.http1.Http1ExchangeCodec.readResponseHeaders(Http1ExchangeCodec.kt:167)",
		"okhttp3.internal.connection.Exchange.readResponseHeaders(Exchange.kt:111)",
	}},
	{"org.springframework.web.client.HttpServerErrorException$ServiceUnavailable", []string{"503 Service Unavailable: [no healthy upstream]"}, []string{
		"org.springframework.web.client.HttpServerErrorException.create(HttpServerErrorException.java:114)",
		"org.springframework.web.client.StatusHandler.lambda$fromErrorHandler$1(StatusHandler.java:71)",
		"org.springframework.web.client.DefaultRestClient$DefaultResponseSpec.toEntityInternal(DefaultRestClient.java:735)",
	}},
	{"org.apache.kafka.common.errors.TimeoutException", []string{"Topic {topic} not present in metadata after 60000 ms."}, []string{
		"org.apache.kafka.clients.producer.KafkaProducer.waitOnMetadata(KafkaProducer.java:1178)",
		"org.apache.kafka.clients.producer.KafkaProducer.doSend(KafkaProducer.java:1034)",
		"org.springframework.kafka.core.KafkaTemplate.doSend(KafkaTemplate.java:795)",
	}},
	{"com.fasterxml.jackson.databind.exc.InvalidFormatException", []string{"Cannot deserialize value of type `java.math.BigDecimal` from String \"N/A\": not a valid representation"}, []string{
		"com.fasterxml.jackson.databind.exc.InvalidFormatException.from(InvalidFormatException.java:67)",
		"com.fasterxml.jackson.databind.DeserializationContext.weirdStringException(DeserializationContext.java:1958)",
		"com.fasterxml.jackson.databind.ObjectMapper.readValue(ObjectMapper.java:3848)",
	}},
	{"com.kubemate.common.exception.BusinessException", []string{"transaction failed: {error_code}", "account {account_id} is frozen"}, nil},
	{"java.util.concurrent.CompletionException", []string{"java.util.concurrent.TimeoutException"}, []string{
		"java.base/java.util.concurrent.CompletableFuture.encodeThrowable(CompletableFuture.java:332)",
		"java.base/java.util.concurrent.CompletableFuture.completeThrowable(CompletableFuture.java:347)",
	}},
	{"jakarta.persistence.OptimisticLockException", []string{"Row was updated or deleted by another transaction (or unsaved-value mapping was incorrect)"}, []string{
		"org.hibernate.internal.ExceptionConverterImpl.wrapStaleStateException(ExceptionConverterImpl.java:226)",
		"org.hibernate.internal.ExceptionConverterImpl.convert(ExceptionConverterImpl.java:93)",
	}},
}

// Framework frames below the application, bottom of the stack last.
var (
	httpFrames = []string{
		"java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)",
		"java.base/java.lang.reflect.Method.invoke(Method.java:580)",
		"org.springframework.web.method.support.InvocableHandlerMethod.doInvoke(InvocableHandlerMethod.java:255)",
		"org.springframework.web.method.support.InvocableHandlerMethod.invokeForRequest(InvocableHandlerMethod.java:188)",
		"org.springframework.web.servlet.mvc.method.annotation.ServletInvocableHandlerMethod.invokeAndHandle(ServletInvocableHandlerMethod.java:118)",
		"org.springframework.web.servlet.mvc.method.annotation.RequestMappingHandlerAdapter.invokeHandlerMethod(RequestMappingHandlerAdapter.java:986)",
		"org.springframework.web.servlet.DispatcherServlet.doDispatch(DispatcherServlet.java:1089)",
		"org.springframework.web.servlet.DispatcherServlet.doService(DispatcherServlet.java:979)",
		"org.springframework.web.servlet.FrameworkServlet.processRequest(FrameworkServlet.java:1014)",
		"org.springframework.web.servlet.FrameworkServlet.doPost(FrameworkServlet.java:914)",
		"jakarta.servlet.http.HttpServlet.service(HttpServlet.java:590)",
		"org.apache.catalina.core.ApplicationFilterChain.doFilter(ApplicationFilterChain.java:140)",
		"org.springframework.web.filter.OncePerRequestFilter.doFilter(OncePerRequestFilter.java:116)",
		"org.apache.catalina.core.StandardWrapperValve.invoke(StandardWrapperValve.java:167)",
		"org.apache.catalina.connector.CoyoteAdapter.service(CoyoteAdapter.java:344)",
		"org.apache.coyote.http11.Http11Processor.service(Http11Processor.java:397)",
		"org.apache.tomcat.util.net.NioEndpoint$SocketProcessor.doRun(NioEndpoint.java:1769)",
		"org.apache.tomcat.util.threads.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1189)",
		"java.base/java.lang.Thread.run(Thread.java:1583)",
	}
	consumerFrames = []string{
		"org.springframework.kafka.listener.adapter.MessagingMessageListenerAdapter.invokeHandler(MessagingMessageListenerAdapter.java:382)",
		"org.springframework.kafka.listener.KafkaMessageListenerContainer$ListenerConsumer.doInvokeOnMessage(KafkaMessageListenerContainer.java:2836)",
		"org.springframework.kafka.listener.KafkaMessageListenerContainer$ListenerConsumer.pollAndInvoke(KafkaMessageListenerContainer.java:1303)",
		"org.springframework.kafka.listener.KafkaMessageListenerContainer$ListenerConsumer.run(KafkaMessageListenerContainer.java:1248)",
		"java.base/java.util.concurrent.CompletableFuture$AsyncRun.run(CompletableFuture.java:1804)",
		"java.base/java.lang.Thread.run(Thread.java:1583)",
	}
	jobFrames = []string{
		"org.springframework.scheduling.support.ScheduledMethodRunnable.runInternal(ScheduledMethodRunnable.java:130)",
		"org.springframework.scheduling.support.ScheduledMethodRunnable.run(ScheduledMethodRunnable.java:124)",
		"java.base/java.util.concurrent.Executors$RunnableAdapter.call(Executors.java:572)",
		"java.base/java.util.concurrent.FutureTask.runAndReset(FutureTask.java:358)",
		"java.base/java.util.concurrent.ScheduledThreadPoolExecutor$ScheduledFutureTask.run(ScheduledThreadPoolExecutor.java:305)",
		"java.base/java.util.concurrent.ThreadPoolExecutor.runWorker(ThreadPoolExecutor.java:1144)",
		"java.base/java.lang.Thread.run(Thread.java:1583)",
	}
	proxyFrames = []string{
		"org.springframework.aop.framework.ReflectiveMethodInvocation.proceed(ReflectiveMethodInvocation.java:184)",
		"org.springframework.transaction.interceptor.TransactionInterceptor.invoke(TransactionInterceptor.java:119)",
		"org.springframework.aop.framework.CglibAopProxy$DynamicAdvisedInterceptor.intercept(CglibAopProxy.java:720)",
	}
)
