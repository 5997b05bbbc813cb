package org.mas.broker.delivery.ledger;

import java.sql.SQLException;
import java.util.List;
import java.util.Optional;

import org.apache.camel.Exchange;

import org.mas.broker.MasNames;
import org.mas.broker.rest.RestResponses;

/** GET /api/messages/{id}: the delivery status and timeline of one message. Bean name {@code messagesApi}. */
public class MessagesApi {

    private final DeliveryLedger ledger;
    private final RestResponses responses;

    public MessagesApi(DeliveryLedger ledger, RestResponses responses) {
        this.ledger = ledger;
        this.responses = responses;
    }

    public void status(Exchange exchange) throws SQLException {
        String id = exchange.getIn().getHeader("id", String.class);
        // an id no message can have (NUL, too long...) is unknown, without asking the database
        Optional<MessageStatus> status = id == null || !MasNames.isMessageId(id) ? Optional.empty() : ledger.status(id);
        if (status.isPresent()) {
            responses.json(exchange, 200, status.get());
        } else {
            RestResponses.error(exchange, 404, "unknown message", List.of(MasNames.isMessageId(id)
                    ? "no message with id '" + id + "'" : "no message has that id: ids match " + MasNames.MESSAGE_ID_REGEX));
        }
    }
}
