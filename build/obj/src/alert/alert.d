build/obj/src/alert/alert.o: src/alert/alert.c src/alert/alert_int.h \
 src/alert/alert.h src/route/route.h src/sla/sla.h src/state/state.h
src/alert/alert_int.h:
src/alert/alert.h:
src/route/route.h:
src/sla/sla.h:
src/state/state.h:
